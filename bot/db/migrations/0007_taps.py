from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_broadcasts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Tap',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('friend_id', fields.IntField()),
                ('data', fields.CharField(max_length=300)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'taps', 'app': 'models', 'indexes': [Index(fields=['data', 'at'])], 'pk_attr': 'id', 'table_description': 'A friend tapped a postback button or quick reply (for per-message tap counts).'},
            bases=['Model'],
        ),
    ]
