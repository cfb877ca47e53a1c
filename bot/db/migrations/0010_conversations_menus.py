from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_outbox_source')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('kind', fields.CharField(max_length=20)),
                ('name', fields.CharField(max_length=100)),
                ('state', fields.CharField(max_length=100)),
                ('status', fields.CharField(max_length=12)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active_friend_id', fields.IntField(null=True, unique=True)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('remind_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'conversations', 'app': 'models', 'indexes': [Index(fields=['friend_id', 'status']), Index(fields=['status', 'remind_at']), Index(fields=['kind', 'name', 'status'])], 'pk_attr': 'id', 'table_description': "A chat conversation (a survey) with a friend: the state machine's state and answers."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FormSubmission',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('form', fields.CharField(max_length=100)),
                ('answers', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'form_submissions', 'app': 'models', 'indexes': [Index(fields=['form', 'friend_id'])], 'pk_attr': 'id', 'table_description': 'A LIFF form sent by a friend (verified by their ID token): the answers as given.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LessonProgress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('course', fields.CharField(max_length=100)),
                ('lesson', fields.CharField(max_length=100)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('watched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'lesson_progress', 'app': 'models', 'unique_together': (('friend_id', 'course', 'lesson'),), 'pk_attr': 'id', 'table_description': 'A lesson of a course delivered to a friend, and when they marked it watched.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RichMenuRecord',
            fields=[
                ('content_hash', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('menu_key', fields.CharField(max_length=120)),
                ('line_rich_menu_id', fields.CharField(null=True, max_length=100)),
                ('alias', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rich_menus', 'app': 'models', 'indexes': [Index(fields=['menu_key'])], 'pk_attr': 'content_hash', 'table_description': 'A rich menu created at LINE, by the hash of its content (request body and image).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Stamp',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('rally', fields.CharField(max_length=100)),
                ('stamp_key', fields.CharField(max_length=200)),
                ('source', fields.CharField(max_length=150)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stamps', 'app': 'models', 'unique_together': (('friend_id', 'rally', 'stamp_key'),), 'pk_attr': 'id', 'table_description': 'One stamp on a card. The stamp key (a lesson, a code, a button) makes it count once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StampCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('rally', fields.CharField(max_length=100)),
                ('state', fields.CharField(max_length=20)),
                ('stamps', fields.IntField(default=0)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stamp_cards', 'app': 'models', 'unique_together': (('friend_id', 'rally'),), 'pk_attr': 'id', 'table_description': "A friend's card in a stamp rally: the machine's state (collecting, completed)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyAnswer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation_id', fields.BigIntField()),
                ('friend_id', fields.IntField()),
                ('survey', fields.CharField(max_length=100)),
                ('question', fields.CharField(max_length=100)),
                ('value', fields.CharField(max_length=500)),
                ('answered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'survey_answers', 'app': 'models', 'indexes': [Index(fields=['survey', 'question', 'value']), Index(fields=['friend_id', 'survey'])], 'pk_attr': 'id', 'table_description': 'One answer of a completed survey (a multi-select gives one row per choice), for'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Friend',
            name='rich_menu',
            field=fields.CharField(null=True, max_length=120),
        ),
        ops.AddField(
            model_name='Friend',
            name='rich_menu_linked',
            field=fields.CharField(null=True, max_length=120),
        ),
        ops.AddIndex(
            model_name='Friend',
            index=Index(fields=['rich_menu', 'rich_menu_linked']),
        ),
    ]
