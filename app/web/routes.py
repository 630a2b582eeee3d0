"""The one route table: OpenAPI-style path templates → handlers.

`tornado_routes` turns the templates into Tornado patterns; `openapi.build` documents the
same table, so a route cannot exist without its documentation. `STATIC` holds the routes
that serve files (no operations, not in the OpenAPI document).
"""
from __future__ import annotations

import re

from . import (api_admin, api_jobs, api_customers, api_events, api_imports, api_loyalty, api_payouts, api_rewards,
               api_transfers, ops)
from . import api_giftcards, api_referrals, api_wallets, pages_public
from . import pages_console, pages_portal
from .pages_base import PAGE_FALLBACK, PageNotFound, PageStatic
from .static import SWAGGER_UI_DIR, DocsStaticHandler
from ..resources import STATIC_DIR

API = [
    ("/health", ops.HealthHandler),
    ("/livez", ops.LivenessHandler),
    ("/metrics", ops.MetricsHandler),
    ("/openapi.json", ops.OpenApiHandler),
    ("/docs", ops.DocsHandler),
    ("/v1/brands", api_admin.BrandsHandler),
    ("/v1/api-keys", api_admin.ApiKeysHandler),
    ("/v1/api-keys/{key_id}", api_admin.ApiKeyHandler),
    ("/v1/assets", api_customers.AssetsHandler),
    ("/v1/customers", api_customers.CustomersHandler),
    ("/v1/customers/{customer_id}", api_customers.CustomerHandler),
    ("/v1/customers/{customer_id}/balances", api_customers.BalancesHandler),
    ("/v1/customers/{customer_id}/movements", api_customers.MovementsHandler),
    ("/v1/customers/{customer_id}/credit", api_transfers.CreditHandler),
    ("/v1/customers/{customer_id}/debit", api_transfers.DebitHandler),
    ("/v1/transfers", api_transfers.TransfersHandler),
    ("/v1/transfers/batch", api_transfers.BatchHandler),
    ("/v1/transfers/{transfer_id}", api_transfers.TransferHandler),
    ("/v1/transfers/{transfer_id}/post", api_transfers.PostHandler),
    ("/v1/transfers/{transfer_id}/void", api_transfers.VoidHandler),
    ("/v1/event-types", api_loyalty.EventTypesHandler),
    ("/v1/rules", api_loyalty.RulesHandler),
    ("/v1/rules/ui-catalog", api_loyalty.UiCatalogHandler),
    ("/v1/rules/{code}", api_loyalty.RuleHandler),
    ("/v1/tiers", api_loyalty.TiersHandler),
    ("/v1/customers/{customer_id}/loyalty", api_loyalty.LoyaltyHandler),
    ("/v1/bonus-definitions", api_loyalty.BonusDefinitionsHandler),
    ("/v1/bonus-awards", api_loyalty.BonusAwardsHandler),
    ("/v1/events", api_events.EventsHandler),
    ("/v1/events/batch", api_events.EventBatchHandler),
    ("/v1/events/{event_id}", api_events.EventHandler),
    ("/v1/customers/{customer_id}/events", api_events.CustomerEventsHandler),
    ("/v1/rewards", api_rewards.RewardsHandler),
    ("/v1/customers/{customer_id}/rewards", api_rewards.CustomerRewardsHandler),
    ("/v1/customers/{customer_id}/rewards/{reward_id}/use", api_rewards.UseRewardHandler),
    ("/v1/customers/{customer_id}/rewards/{reward_id}/cancel", api_rewards.CancelRewardHandler),
    ("/v1/imports/customers", api_imports.CustomersImportHandler),
    ("/v1/imports/events", api_imports.EventsImportHandler),
    ("/v1/jobs", api_jobs.JobsHandler),
    ("/v1/jobs/{code}", api_jobs.JobHandler),
    ("/v1/jobs/{code}/preview", api_jobs.JobPreviewHandler),
    ("/v1/jobs/{code}/run", api_jobs.JobRunHandler),
    ("/v1/jobs/{code}/runs", api_jobs.JobRunsHandler),
    ("/v1/payouts", api_payouts.PayoutsHandler),
    ("/v1/payouts/{payout_id}", api_payouts.PayoutHandler),
    ("/v1/payouts/{payout_id}/cancel", api_payouts.PayoutCancelHandler),
    ("/v1/wallets", api_wallets.WalletsHandler),
    ("/v1/wallets/{wallet_id}", api_wallets.WalletHandler),
    ("/v1/wallets/{wallet_id}/withdraw", api_wallets.WalletWithdrawHandler),
    ("/v1/groups", api_referrals.GroupsHandler),
    ("/v1/ambassadors", api_referrals.AmbassadorsHandler),
    ("/v1/qrcodes", api_referrals.QrCodesHandler),
    ("/v1/qrcodes/{code}.svg", api_referrals.QrSvgHandler),  # before /v1/qrcodes/{code}: matched in order
    ("/v1/qrcodes/{code}.png", api_referrals.QrPngHandler),
    ("/v1/qrcodes/{code}", api_referrals.QrCodeHandler),
    ("/q/{code}", pages_public.QrLandingHandler),
    ("/v1/gift-cards", api_giftcards.GiftCardsHandler),
    ("/v1/gift-cards/{card_id}/void", api_giftcards.GiftCardVoidHandler),
    ("/v1/gift-cards/{code}/redeem", api_giftcards.GiftCardRedeemHandler),
    ("/v1/gift-cards/{code}", api_giftcards.GiftCardHandler),
    ("/v1/customers/{customer_id}/portal-link", pages_portal.PortalLinkHandler),
]

STATIC = [
    ("/docs/static/{path}", DocsStaticHandler, {"path": SWAGGER_UI_DIR}),
    ("/static/{path}", PageStatic, {"path": STATIC_DIR}),
]
# HTML pages (staff console, customer portal): not API operations, not in the OpenAPI document.
PAGES = pages_console.ROUTES + pages_portal.ROUTES


def _pattern(template: str) -> str:
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"


def tornado_routes() -> list:
    return [(_pattern(template), handler, kwargs) for template, handler, kwargs in STATIC] + \
        [(_pattern(template), handler) for template, handler in API] + \
        [(_pattern(template), handler) for template, handler in PAGES] + [(PAGE_FALLBACK, PageNotFound)]


def route_names() -> dict:
    """Handler class → route template: the `route` of the request log and of the metrics."""
    return {handler: template for template, handler, _ in STATIC} | {handler: template for template, handler in API} | \
        {handler: template for template, handler in PAGES} | {PageNotFound: "unmatched page"}
