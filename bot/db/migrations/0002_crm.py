from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FriendField',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='fields', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('value_text', fields.TextField(null=True, unique=False)),
                ('value_number', fields.FloatField(null=True)),
                ('value_date', fields.DateField(null=True)),
                ('value_mmdd', fields.IntField(null=True)),
                ('value_bool', fields.BooleanField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'friend_fields', 'app': 'models', 'unique_together': (('friend_id', 'name'),), 'indexes': [Index(fields=['name', 'value_number']), Index(fields=['name', 'value_mmdd']), Index(fields=['name', 'value_date'])], 'pk_attr': 'id', 'table_description': "A friend's value for one declared field (友だち情報欄), typed columns so SQL compares."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FriendScore',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='scores', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('value', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'friend_scores', 'app': 'models', 'unique_together': (('friend_id', 'name'),), 'indexes': [Index(fields=['name', 'value'])], 'pk_attr': 'id', 'table_description': 'A named counter beside points (スコアリング), e.g. engagement.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='point_entries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('delta', fields.IntField()),
                ('remaining', fields.IntField(default=0)),
                ('reason', fields.CharField(default='', max_length=200)),
                ('source', fields.CharField(max_length=32)),
                ('actor', fields.CharField(null=True, max_length=100)),
                ('once_key', fields.CharField(null=True, max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'point_entries', 'app': 'models', 'unique_together': (('friend_id', 'once_key'),), 'indexes': [Index(fields=['friend_id', 'created_at']), Index(fields=['expires_at', 'remaining'])], 'pk_attr': 'id', 'table_description': 'One line of the points ledger. Earnings keep what is left of them in `remaining`,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleCursor',
            fields=[
                ('rule', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('checked_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rule_cursors', 'app': 'models', 'pk_attr': 'rule', 'table_description': 'How far the scheduler has looked for a time-based rule (cron runs, tags ageing).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rule', fields.CharField(max_length=100)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='rule_states', on_delete=OnDelete.CASCADE)),
                ('matched', fields.BooleanField()),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rule_states', 'app': 'models', 'unique_together': (('rule', 'friend_id'),), 'pk_attr': 'id', 'table_description': "Whether a rule's condition held for a friend when last checked, so threshold rules"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StepRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='step_runs', on_delete=OnDelete.CASCADE)),
                ('scenario', fields.CharField(max_length=100)),
                ('status', fields.CharField(max_length=16)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_step', fields.IntField(default=0)),
                ('next_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'step_runs', 'app': 'models', 'indexes': [Index(fields=['friend_id', 'scenario', 'status']), Index(fields=['status', 'next_due_at'])], 'pk_attr': 'id', 'table_description': 'A step scenario running for one friend (the delivery engine completes this).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Friend',
            name='points',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='FriendTag',
            index=Index(fields=['tag_id', 'added_at']),
        ),
    ]
