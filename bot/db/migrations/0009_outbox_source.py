from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_links_variants')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='OutboxMessage',
            name='source',
            field=fields.CharField(max_length=150),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['source', 'status']),
        ),
    ]
