from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_taps')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LinkClick',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('link_id', fields.IntField()),
                ('friend_id', fields.IntField(null=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'link_clicks', 'app': 'models', 'indexes': [Index(fields=['link_id', 'friend_id'])], 'pk_attr': 'id', 'table_description': 'A tap on a tracked link, by a known friend or (message-level links) by someone.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrackedLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('url', fields.CharField(max_length=1000)),
                ('source', fields.CharField(max_length=150)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tracked_links', 'app': 'models', 'unique_together': (('source', 'url'),), 'pk_attr': 'id', 'table_description': 'A URL sent in messages through our redirect (/l/...), so taps on it are counted.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VariantAssignment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('experiment', fields.CharField(max_length=150)),
                ('friend_id', fields.IntField()),
                ('variant', fields.CharField(max_length=100)),
                ('delivered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'variant_assignments', 'app': 'models', 'unique_together': (('experiment', 'friend_id'),), 'indexes': [Index(fields=['experiment', 'variant'])], 'pk_attr': 'id', 'table_description': 'Which variant of an A/B test a friend received, and when (first delivery).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='BroadcastRun',
            name='variant',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='PointEntry',
            name='expiry_notified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
