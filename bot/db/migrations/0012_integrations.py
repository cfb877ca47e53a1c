from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_admin_mode')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExternalCustomer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.CharField(max_length=40)),
                ('customer_id', fields.CharField(max_length=100)),
                ('friend_id', fields.IntField()),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('via', fields.CharField(default='', max_length=40)),
            ],
            options={'table': 'external_customers', 'app': 'models', 'unique_together': (('provider', 'customer_id'),), 'indexes': [Index(fields=['friend_id'])], 'pk_attr': 'id', 'table_description': 'A customer of a payment or shop service linked to a friend (a Stripe customer id, a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IntegrationEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.CharField(max_length=40)),
                ('event_id', fields.CharField(max_length=200)),
                ('kind', fields.CharField(default='', max_length=100)),
                ('friend_id', fields.IntField(null=True)),
                ('status', fields.CharField(default='received', max_length=16)),
                ('detail', fields.CharField(default='', max_length=500)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'integration_events', 'app': 'models', 'unique_together': (('provider', 'event_id'),), 'indexes': [Index(fields=['provider', 'status', 'received_at'])], 'pk_attr': 'id', 'table_description': 'An event received from an integration (Stripe, Shopify, a signed webhook): kept by'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RouteArrival',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('route', fields.CharField(max_length=64)),
                ('friend_id', fields.IntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('new_friend', fields.BooleanField(default=False)),
                ('actions_run', fields.BooleanField(default=False)),
                ('converted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'route_arrivals', 'app': 'models', 'unique_together': (('route', 'friend_id'),), 'indexes': [Index(fields=['friend_id'])], 'pk_attr': 'id', 'table_description': 'A friend who came through a route: whether it brought them as a new friend, whether'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RouteRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('title', fields.CharField(default='', max_length=200)),
                ('target', fields.CharField(default='friend_add', max_length=2000)),
                ('tag', fields.CharField(null=True, max_length=100)),
                ('origin', fields.CharField(default='scenario', max_length=16)),
                ('created_by', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inflow_routes', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An inflow route (流入経路): from the scenario, or made by an admin in chat.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RouteVisit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('route', fields.CharField(max_length=64)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('line_user_id', fields.CharField(null=True, max_length=64)),
                ('friend_id', fields.IntField(null=True)),
                ('matched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'route_visits', 'app': 'models', 'indexes': [Index(fields=['route', 'at']), Index(fields=['line_user_id', 'matched_at'])], 'pk_attr': 'id', 'table_description': "One opening of a route's link. `code` is what a visitor carries into LINE, so the"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShopOrder',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.CharField(unique=True, max_length=100)),
                ('customer_id', fields.CharField(null=True, max_length=100)),
                ('friend_id', fields.IntField(null=True)),
                ('name', fields.CharField(default='', max_length=100)),
                ('subtotal', fields.IntField(default=0)),
                ('currency', fields.CharField(default='', max_length=8)),
                ('items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('points', fields.IntField(default=0)),
                ('points_reversed', fields.IntField(default=0)),
                ('refunded', fields.IntField(default=0)),
                ('paid_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('credited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'shop_orders', 'app': 'models', 'indexes': [Index(fields=['customer_id']), Index(fields=['friend_id'])], 'pk_attr': 'id', 'table_description': 'A paid shop order: what it earned, what refunds took back, and whose it is (a friend'},
            bases=['Model'],
        ),
    ]
