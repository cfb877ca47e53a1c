from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_crm')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Admin',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('line_user_id', fields.CharField(unique=True, max_length=64)),
                ('role', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admins', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A LINE user who runs the account (owner, admin or operator) and gets notices.'},
            bases=['Model'],
        ),
    ]
