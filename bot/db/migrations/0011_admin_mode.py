from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_conversations_menus')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminCodeAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('line_user_id', fields.CharField(max_length=64)),
                ('succeeded', fields.BooleanField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_code_attempts', 'app': 'models', 'indexes': [Index(fields=['line_user_id', 'at'])], 'pk_attr': 'id', 'table_description': 'A code someone sent to become an admin, kept to rate-limit wrong guesses.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminFlow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin_user_id', fields.CharField(unique=True, max_length=64)),
                ('kind', fields.CharField(max_length=32)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_flows', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What an admin is in the middle of (a broadcast draft, a confirmation, picking one of'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminInvite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('role', fields.CharField(max_length=16)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'admin_invites', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time invitation code an owner made: only its hash is kept.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin_user_id', fields.CharField(max_length=64)),
                ('role', fields.CharField(max_length=16)),
                ('command', fields.CharField(max_length=100)),
                ('target', fields.CharField(default='', max_length=500)),
                ('detail', fields.TextField(default='', unique=False)),
                ('result', fields.CharField(max_length=32)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['at']), Index(fields=['admin_user_id', 'at'])], 'pk_attr': 'id', 'table_description': 'One admin action: who, what, on whom, when and with what result.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatBroadcast',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin_user_id', fields.CharField(max_length=64)),
                ('audience', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('audience_label', fields.CharField(default='', max_length=300)),
                ('messages', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(max_length=16)),
                ('send_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recipients', fields.IntField(default=0)),
                ('reported_percent', fields.IntField(default=0)),
                ('reported_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_broadcasts', 'app': 'models', 'indexes': [Index(fields=['status', 'send_at'])], 'pk_attr': 'id', 'table_description': 'A broadcast an admin composed in chat: audience, messages, when, and how far the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExportLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('admin_user_id', fields.CharField(max_length=64)),
                ('audience', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('audience_label', fields.CharField(default='', max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('downloads', fields.IntField(default=0)),
            ],
            options={'table': 'export_links', 'app': 'models', 'pk_attr': 'id', 'table_description': "A CSV download an admin asked for: only the token's hash is kept, with its expiry."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ScenarioReload',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('content_hash', fields.CharField(max_length=64)),
                ('admin_user_id', fields.CharField(null=True, max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'scenario_reloads', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A scenario reload an admin asked for: every process reloads when it sees a newer row'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TalkMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('direction', fields.CharField(max_length=4)),
                ('admin_user_id', fields.CharField(null=True, max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('text', fields.TextField(unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'talk_messages', 'app': 'models', 'indexes': [Index(fields=['friend_id', 'at'])], 'pk_attr': 'id', 'table_description': "One message of the 1:1 talk with a friend: theirs (in) or an admin's reply (out)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Admin',
            name='in_admin_mode',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Admin',
            name='talk_notifications',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]
