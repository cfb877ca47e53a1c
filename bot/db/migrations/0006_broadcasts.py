from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_step_deliveries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BroadcastRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('occurrence', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.CharField(null=True, max_length=100)),
                ('recipients', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'broadcast_runs', 'app': 'models', 'unique_together': (('name', 'occurrence'),), 'pk_attr': 'id', 'table_description': 'One occurrence of a broadcast. Unique per name and time, so however many processes'},
            bases=['Model'],
        ),
    ]
