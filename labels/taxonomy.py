"""The shared vocabulary: GraphSense concepts and confidence scale, network codes, and the
derivation of screening categories from a tag and its actor.

The concept ids and confidence levels are GraphSense's (graphsense-lib ``tagpack/db``, MIT,
© Iknaio Cryptoasset Analytics GmbH), adopted as they are so packs from anyone meet ours.
"""

from __future__ import annotations

from exposure.addresses import looks_tron
from exposure.domain import Actor, Tag

#: GraphSense concept ids (graphsense-lib 2.18, ``concepts.yaml``).
CONCEPTS = frozenset(
    [
        "abuse",
        "account_hack",
        "atm",
        "behaviour",
        "black_list",
        "child_sexual_abuse",
        "coinjoin",
        "cold_wallet",
        "collectible",
        "concept",
        "counterfeit",
        "dark_web",
        "data_breach",
        "defi",
        "defi_bridge",
        "defi_custody",
        "defi_dao",
        "defi_derivative",
        "defi_dex",
        "defi_dex_pair",
        "defi_lending",
        "defi_staking",
        "defi_token",
        "deployer",
        "deposit_wallet",
        "donation",
        "drugs",
        "entity",
        "escrow_wallet",
        "exchange",
        "exploit",
        "extortion",
        "extremism",
        "faucet",
        "filesharing",
        "financial_crime",
        "forum_mention",
        "funder",
        "gambling",
        "gov_black_list",
        "gov_white_list",
        "gray_usage",
        "hacking",
        "hosting",
        "hot_wallet",
        "human_trafficking",
        "ico_wallet",
        "index",
        "investment_fraud",
        "item",
        "malware",
        "market",
        "mention",
        "messaging_service",
        "miner",
        "mining_service",
        "mixing",
        "mixing_service",
        "money_laundering",
        "murder",
        "nameservice",
        "organization",
        "payment_card_fraud",
        "payment_processor",
        "perpetrator",
        "phishing",
        "ponzi_scheme",
        "pyramid_scheme",
        "ransomware",
        "sanction",
        "scam",
        "search_engine",
        "service",
        "service_hack",
        "sextortion",
        "sexual_abuse",
        "shop",
        "social_engineering",
        "source",
        "terrorism",
        "terrorism_financing",
        "torture",
        "unknown",
        "user",
        "victim",
        "violence",
        "vpn",
        "wallet_service",
        "warm_wallet",
        "weapons",
        "website_mention",
        "white_list",
        "white_usage",
    ]
)

#: GraphSense confidence ids and their levels (``confidence.csv``).
CONFIDENCE = {
    "override": 100,
    "ownership": 100,
    "ledger_immanent": 100,
    "manual_transaction": 90,
    "service_api": 70,
    "forensic_investigation": 70,
    "authority_data": 60,
    "trusted_provider": 50,
    "service_data": 50,
    "forensic": 50,
    "untrusted_transaction": 40,
    "web_crawl": 20,
    "heuristic": 10,
    "unknown": 5,
}

#: GraphSense currency/network codes (and our own chain names) to the project's chain names.
NETWORKS = {
    "btc": "bitcoin",
    "bitcoin": "bitcoin",
    "eth": "ethereum",
    "ethereum": "ethereum",
    "trx": "tron",
    "tron": "tron",
    "bsc": "bsc",
    "bep20": "bsc",
    "bnb": "bsc",
    "matic": "polygon",
    "pol": "polygon",
    "polygon": "polygon",
    "arb": "arbitrum",
    "arbitrum": "arbitrum",
    "op": "optimism",
    "optimism": "optimism",
    "base": "base",
    "avax": "avalanche",
    "avalanche": "avalanche",
    "devchain": "devchain",
    "local": "local",
}

SERVES_MAINLAND = ("yes", "reported", "no", "unknown")
RWA_ROLES = ("issuer", "token")
STABLECOIN_ROLES = ("issuer", "token")

#: Screening categories, in report order. The first two are the project's purpose.
SCREENING_CATEGORIES = (
    "mainland_exchange",
    "rwa",
    "exchange",
    "hk_licensed_exchange",
    "sanction",
    "mixing_service",
    "stablecoin_issuer",
    "defi_bridge",
    "mining_service",
    "gambling",
    "scam",
    "ransomware",
    "hacking",
    "market",
)

#: GraphSense concepts that are screening categories as they are (or map to one).
_GENERIC = {
    "exchange": "exchange",
    "sanction": "sanction",
    "gov_black_list": "sanction",
    "mixing_service": "mixing_service",
    "coinjoin": "mixing_service",
    "defi_bridge": "defi_bridge",
    "mining_service": "mining_service",
    "gambling": "gambling",
    "scam": "scam",
    "phishing": "scam",
    "investment_fraud": "scam",
    "ponzi_scheme": "scam",
    "ransomware": "ransomware",
    "hacking": "hacking",
    "service_hack": "hacking",
    "account_hack": "hacking",
    "exploit": "hacking",
    "market": "market",
    "dark_web": "market",
}


def chain_of(code: str | None, address: str) -> str | None:
    """The project's chain for a GraphSense currency/network code (or an address shape).

    Token-named currencies (``USDT``, ``USDC``) carry no network: the address shape decides
    (``0x`` hex: ethereum; ``T...``: tron). Unknown codes are kept lowercased.
    """
    key = (code or "").strip().lower()
    if key in NETWORKS:
        return NETWORKS[key]
    if key in ("", "usdt", "usdc", "erc20", "trc20"):
        if looks_tron(address):
            return "tron"
        if address.startswith(("0x", "0X")):
            return "ethereum"
        return None
    return key


def screening_categories(tag: Tag, actor: Actor | None) -> tuple[str, ...]:
    """The screening categories a tag puts its address in (DESIGN.md section 5).

    A tag inherits its actor's attributes and its own override them: ``serves_mainland`` yes or
    reported makes ``mainland_exchange`` (the grade stays visible in reports), no with an exchange
    makes a plain ``exchange``; ``rwa`` issuer/token makes ``rwa``; ``stablecoin`` issuer/token
    makes ``stablecoin_issuer`` (a tag's ``none`` switches its actor's role off for that tag,
    e.g. a gold token of a stablecoin issuer); an actor licensed in Hong Kong is
    ``hk_licensed_exchange``; GraphSense concepts of the tag (else of its actor) give the
    generic categories.
    """
    out: set[str] = set()
    concepts = {c for c in (tag.category, *tag.concepts) if c}
    if not concepts and actor is not None:
        concepts.update(actor.categories)  # the actor's categories only if the tag has none
    for concept in concepts:
        mapped = _GENERIC.get(concept)
        if mapped:
            out.add(mapped)
    serves = tag.serves_mainland or (actor.serves_mainland if actor else None)
    if serves in ("yes", "reported"):
        out.add("mainland_exchange")
        out.add("exchange")
    rwa = tag.rwa or (actor.rwa if actor else None)
    if rwa in RWA_ROLES:
        out.add("rwa")
    stable = tag.stablecoin or (actor.stablecoin if actor else None)
    if stable in STABLECOIN_ROLES:
        out.add("stablecoin_issuer")
    licensed = ((actor.licence if actor else None) or "").lower().startswith("hk")
    if licensed and "exchange" in out and "mainland_exchange" not in out:
        out.add("hk_licensed_exchange")
    return tuple(c for c in SCREENING_CATEGORIES if c in out)
