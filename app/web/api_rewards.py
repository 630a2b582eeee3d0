"""Brand routes of the rewards catalog: the catalog, redeeming, and a customer's rewards."""
from __future__ import annotations

from ..services.ledger import check_customer_id
from .api_customers import PAGE_QUERY
from .base import ApiHandler, Op
from .models import page_of
from .models_rewards import CustomerRewardOut, RedeemIn, ResolveIn, RewardIn, RewardOut

REDEEM_ERRORS = (400, 404, 409, 422)


class RewardsHandler(ApiHandler):
    OPS = {"get": Op("List the brand's rewards catalog", response=page_of(RewardOut), query=PAGE_QUERY),
           "post": Op("Add a reward to the catalog (409 for a code in use)", body=RewardIn, response=RewardOut,
                      status=201, errors=(400, 404, 409))}

    async def get(self) -> None:
        limit = self.page_limit()
        items = await self.runtime.rewards.list(self.brand_id, self.cursor(), limit)
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(RewardIn)
        await self.write_through(lambda wrap: self.runtime.rewards.create(self.brand_id, d.model_dump(), wrap=wrap),
                                 lambda view: (201, view), raw)


class CustomerRewardsHandler(ApiHandler):
    OPS = {"get": Op("A customer's rewards, oldest first", response=page_of(CustomerRewardOut),
                     query={**PAGE_QUERY, "status": "issued | used | cancelled | expired"}, errors=(404,)),
           "post": Op("Redeem a reward: pay its cost, take one from stock and issue it, in one transaction"
                      " (422 out_of_stock / limit_exceeded / insufficient_funds; 404 for a paid reward and"
                      " an unknown customer)", body=RedeemIn, response=CustomerRewardOut, status=201,
                      errors=REDEEM_ERRORS)}

    async def get(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        limit = self.page_limit()
        items = await self.runtime.rewards.list_issued(self.brand_id, customer_id, self.query_text("status"),
                                                       self.cursor(), limit)
        self.reply(200, {"data": [view for _, view in items],
                         "next_cursor": self.next_cursor(items, limit, lambda item: item[0])})

    async def post(self, customer_id: str) -> None:
        check_customer_id(customer_id)
        raw = self.json_body()
        d = self.body(RedeemIn)
        await self.write_through(
            lambda wrap: self.runtime.rewards.redeem(self.brand_id, customer_id, d.reward, wrap=wrap),
            lambda view: (201, view), raw)


class UseRewardHandler(ApiHandler):
    ACTION = "use"
    OPS = {"post": Op("Mark a customer's issued reward used (once; 409 already_resolved after that, or when"
                      " it was cancelled or has expired)", body=ResolveIn, response=CustomerRewardOut,
                      errors=(404, 409))}

    async def post(self, customer_id: str, reward_id: str) -> None:
        check_customer_id(customer_id)
        issued_id = self.path_id(reward_id, "reward_id")
        raw = self.json_body()
        self.body(ResolveIn)
        action = self.runtime.rewards.use if self.ACTION == "use" else self.runtime.rewards.cancel
        await self.write_through(lambda wrap: action(self.brand_id, customer_id, issued_id, wrap=wrap),
                                 lambda view: (200, view), raw)


class CancelRewardHandler(UseRewardHandler):
    ACTION = "cancel"
    OPS = {"post": Op("Cancel a customer's issued, unused reward: refund its cost (a refund transfer) and give"
                      " its stock back (409 already_resolved otherwise)", body=ResolveIn,
                      response=CustomerRewardOut, errors=(404, 409))}
