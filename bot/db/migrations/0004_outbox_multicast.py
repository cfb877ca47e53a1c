from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_admins')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='recipient_count',
            field=fields.IntField(default=1, db_default=1),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='recipients',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
