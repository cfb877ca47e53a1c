from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Friend',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('line_user_id', fields.CharField(unique=True, max_length=64)),
                ('display_name', fields.CharField(default='', max_length=200)),
                ('picture_url', fields.CharField(null=True, max_length=2000)),
                ('status_message', fields.TextField(null=True, unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('blocked', fields.BooleanField(default=False)),
                ('followed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('unfollowed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_event_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'friends', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A LINE user who added the account, `id` is the short number admins see as #123.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboxEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook_event_id', fields.CharField(unique=True, max_length=64)),
                ('user_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('event_type', fields.CharField(max_length=32)),
                ('payload', fields.TextField(unique=False)),
                ('event_timestamp', fields.BigIntField()),
                ('is_redelivery', fields.BooleanField(default=False)),
                ('status', fields.CharField(db_index=True, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('error', fields.TextField(null=True, unique=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_ms', fields.FloatField(null=True)),
            ],
            options={'table': 'inbox_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A webhook event as LINE sent it, stored before the 200 so nothing is lost.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=191)),
                ('user_id', fields.CharField(db_index=True, max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('reply_token', fields.CharField(null=True, max_length=255)),
                ('reply_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('messages', fields.TextField(unique=False)),
                ('retry_key', fields.UUIDField()),
                ('status', fields.CharField(db_index=True, max_length=16)),
                ('source', fields.CharField(max_length=32)),
                ('attempts', fields.IntField(default=0)),
                ('http_status', fields.IntField(null=True)),
                ('line_request_id', fields.CharField(null=True, max_length=64)),
                ('error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_messages', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An outgoing request to LINE, written before the HTTP call so a crash never loses it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('folder', fields.CharField(null=True, max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tags', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A label operators put on friends (declared in the scenario or created by admins).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FriendTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend', fields.ForeignKeyField('models.Friend', source_field='friend_id', db_constraint=True, to_field='id', related_name='tag_history', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('models.Tag', source_field='tag_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.CASCADE)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(max_length=32)),
                ('actor', fields.CharField(null=True, max_length=100)),
            ],
            options={'table': 'friend_tags', 'app': 'models', 'indexes': [Index(fields=['friend_id', 'tag_id', 'removed_at'])], 'pk_attr': 'id', 'table_description': 'One period during which a friend had a tag (re-adding after removal opens a new one).'},
            bases=['Model'],
        ),
    ]
