from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_multicast')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StepDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run_id', fields.BigIntField()),
                ('friend_id', fields.IntField()),
                ('scenario', fields.CharField(max_length=100)),
                ('step', fields.IntField()),
                ('branch', fields.CharField(null=True, max_length=100)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.CharField(null=True, max_length=100)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'step_deliveries', 'app': 'models', 'unique_together': (('run_id', 'step'),), 'indexes': [Index(fields=['scenario', 'step', 'status'])], 'pk_attr': 'id', 'table_description': 'What happened to one step for one run: sent, skipped (and why) or failed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StepScenarioState',
            fields=[
                ('scenario', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('paused', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'step_scenario_states', 'app': 'models', 'pk_attr': 'scenario', 'table_description': 'A step scenario paused for everyone (admins pause and resume it).'},
            bases=['Model'],
        ),
    ]
