"""A deterministic demo data set for the embedded PSA.

The same seed and anchor date always give the same records, so the demo, the tests and
the screenshots agree. Thousands of records: resources, companies with account managers,
contacts, opportunities with owners, appointments (weekly series among them), to-dos and
service calls with tickets and tasks, and service desk tickets in every status and
priority, some due within hours of the demo's day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engine.psa.embedded import EmbeddedPsa
from engine.psa.tickets import STATUS_COMPLETE, TICKET_PRIORITIES, TICKET_QUEUES, TICKET_STATUSES

DEMO_SEED = 2026
DEMO_DOMAIN = "contoso.example"

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hannah",
    "Isaac",
    "Julia",
    "Kai",
    "Lena",
    "Milo",
    "Nora",
    "Oscar",
    "Paula",
    "Quinn",
    "Rosa",
    "Samuel",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Jonas",
    "Mara",
    "Elias",
    "Ida",
)
LAST_NAMES = (
    "Fischer",
    "Brooks",
    "Reyes",
    "Kim",
    "Novak",
    "Okafor",
    "Larsen",
    "Moreau",
    "Schmidt",
    "Tanaka",
    "Costa",
    "Weber",
    "Haddad",
    "Lindqvist",
    "Petrov",
    "Alvarez",
    "Nguyen",
    "Becker",
    "Murphy",
    "Rossi",
    "Yilmaz",
    "Kowalski",
    "Jensen",
    "Dubois",
    "Santos",
    "Wagner",
    "Ito",
    "Meyer",
    "Silva",
    "Keller",
)
COMPANY_WORDS = (
    "Alpine",
    "Harbor",
    "Summit",
    "Cedar",
    "Quantum",
    "Northwind",
    "Bluebird",
    "Granite",
    "Meridian",
    "Aurora",
    "Beacon",
    "Falcon",
    "Juniper",
    "Lakeside",
    "Orchid",
    "Pioneer",
)
COMPANY_KINDS = ("Logistics", "Dental", "Bakery", "Architects", "Legal", "Clinic", "Foods")
STREETS = ("Main Street", "Harbor Road", "Station Square", "Mill Lane", "Park Avenue")
CITIES = ("Springfield", "Riverton", "Lakeview", "Fairmont", "Oakdale")
POSTAL_CODES = dict(zip(CITIES, ("97477", "97301", "97630", "97110", "97820"), strict=True))
MIDDLE_NAMES = ("Anne", "James", "Lee", "Marie", "Ray", "Jo")
DEPARTMENTS = ("Sales", "Finance", "Operations", "IT", "Front office", "Management")
ACTION_TYPES = ("Phone call", "Meeting", "E-mail", "Follow-up", "Quote review")
APPOINTMENT_TITLES = (
    "Project kick-off",
    "Quarterly review",
    "Training session",
    "Budget planning",
    "Customer workshop",
    "Site visit",
    "Release planning",
    "Vendor call",
)
TICKET_TITLES = (
    "Printer offline",
    "VPN drops",
    "Mailbox full",
    "New laptop",
    "Backup failed",
    "Firewall rule",
    "Password reset",
    "Slow network",
)


@dataclass(frozen=True)
class DemoSize:
    resources: int = 30
    companies: int = 120
    contacts_per_company: tuple[int, int] = (6, 14)
    opportunities: int = 200
    appointments_per_resource: tuple[int, int] = (18, 30)
    todos_per_resource: tuple[int, int] = (12, 24)
    service_calls: int = 160
    tickets: int = 240


def _slot(rng: random.Random, today: date, days: tuple[int, int]) -> tuple[datetime, datetime]:
    day = today + timedelta(days=rng.randint(*days))
    start = datetime.combine(day, time(hour=rng.randint(7, 16)), UTC)
    return start, start + timedelta(minutes=rng.choice((30, 60, 90, 120)))


def _resource_name(index: int) -> tuple[str, str]:
    """Distinct name pairs for the first 900 resources; the first 30 keep their demo names."""
    round_, position = divmod(index, len(FIRST_NAMES))
    return FIRST_NAMES[position], LAST_NAMES[(round_ + position) % len(LAST_NAMES)]


def _contact_details(rng: random.Random, company_address: str) -> dict[str, str]:
    """A contact's middle name, department and mobile phone (each for some contacts), and
    the office address of its company."""
    street, _, city = company_address.partition(", ")
    return {
        "middle_name": rng.choice(MIDDLE_NAMES) if rng.random() < 0.2 else "",
        "department": rng.choice(DEPARTMENTS) if rng.random() < 0.7 else "",
        "mobile_phone": f"+1 555 {rng.randint(1000, 9999)}" if rng.random() < 0.6 else "",
        "street": street,
        "city": city,
        "state": "OR",
        "postal_code": POSTAL_CODES[city],
        "country": "United States",
    }


def seed_demo_psa(
    psa: EmbeddedPsa, today: date, seed: int = DEMO_SEED, size: DemoSize | None = None
) -> None:
    """Fill an empty embedded PSA with the demo data set."""
    size = size or DemoSize()
    rng = random.Random(seed)
    resource_ids = []
    for index in range(size.resources):
        first, last = _resource_name(index)
        suffix = "" if index < len(FIRST_NAMES) * len(LAST_NAMES) else str(index)
        resource_ids.append(
            psa.insert(
                "resources",
                first_name=first,
                last_name=last,
                email=f"{first}.{last}{suffix}@{DEMO_DOMAIN}".lower(),
                active=0 if index == size.resources - 1 else 1,
            )
        )
    company_ids: list[int] = []
    addresses: dict[int, str] = {}
    for index in range(size.companies):
        name = f"{COMPANY_WORDS[index % len(COMPANY_WORDS)]} {rng.choice(COMPANY_KINDS)}"
        address = f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
        company_id = psa.insert(
            "companies",
            name=f"{name} {index + 1}",
            address=address,
            owner_resource_id=rng.choice(resource_ids),
        )
        company_ids.append(company_id)
        addresses[company_id] = address
    # AD Sync's contact fields come from a generator of their own, so that every record
    # drawn before they existed stays as it was.
    details = random.Random(f"{seed}:contact-details")
    contact_ids: dict[int, list[int]] = {}
    for company_id in company_ids:
        for _ in range(rng.randint(*size.contacts_per_company)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            contact_ids.setdefault(company_id, []).append(
                psa.insert(
                    "contacts",
                    company_id=company_id,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}.{company_id}@customer.example".lower(),
                    phone=f"+1 555 {rng.randint(1000, 9999)}",
                    title=rng.choice(("CEO", "Office manager", "IT lead", "Accountant", None)),
                    **_contact_details(details, addresses[company_id]),
                )
            )
    for index in range(size.opportunities):
        psa.insert(
            "opportunities",
            company_id=rng.choice(company_ids),
            owner_resource_id=rng.choice(resource_ids),
            title=f"Opportunity {index + 1}",
        )
    for series, resource_id in enumerate(resource_ids, start=1):
        for _ in range(rng.randint(*size.appointments_per_resource)):
            start, end = _slot(rng, today, (-20, 60))
            psa.insert(
                "appointments",
                resource_id=resource_id,
                title=rng.choice(APPOINTMENT_TITLES),
                description="Agenda to follow.",
                start=start,
                end=end,
            )
        first, _ = _slot(rng, today, (-6, 0))
        for week in range(8):
            start = first + timedelta(weeks=week)
            psa.insert(
                "appointments",
                resource_id=resource_id,
                title="Weekly team meeting",
                description="Status round.",
                start=start,
                end=start + timedelta(hours=1),
                series_id=series,
            )
        for _ in range(rng.randint(*size.todos_per_resource)):
            company_id = rng.choice(company_ids)
            start, end = _slot(rng, today, (-10, 45))
            action = rng.choice(ACTION_TYPES)
            psa.insert(
                "todos",
                resource_id=resource_id,
                company_id=company_id,
                contact_id=rng.choice(contact_ids[company_id]),
                action_type=action,
                description=f"{action} about the open quote.",
                start=start,
                end=end,
                completed=start if start.date() < today and rng.random() < 0.5 else None,
            )
    for index in range(size.service_calls):
        start, end = _slot(rng, today, (-15, 30))
        call_id = psa.insert(
            "service_calls",
            company_id=rng.choice(company_ids),
            description="On-site visit.",
            start=start,
            end=end,
            complete=int(start.date() < today),
        )
        for resource_id in rng.sample(resource_ids, rng.choice((1, 1, 2))):
            psa.insert("service_call_resources", service_call_id=call_id, resource_id=resource_id)
        for ticket in range(rng.randint(1, 2)):
            psa.insert(
                "service_call_tickets",
                service_call_id=call_id,
                ticket_number=f"T{today.year}{index:04d}.{ticket + 1:04d}",
                title=rng.choice(TICKET_TITLES),
            )
        if rng.random() < 0.3:
            psa.insert(
                "service_call_tasks", service_call_id=call_id, title="Network upgrade phase 2"
            )
    seed_demo_tickets(psa, today, random.Random(f"{seed}:tickets"), size, contact_ids)
    psa.set_meta("demo_anchor", today.isoformat())


TICKET_DESCRIPTIONS = (
    "Reported by phone; the user cannot work until this is fixed.",
    "Raised from the client portal.",
    "Monitoring alert, opened automatically.",
    "Follow-up of last week's visit.",
)


def seed_demo_tickets(
    psa: EmbeddedPsa,
    today: date,
    rng: random.Random,
    size: DemoSize,
    contact_ids: dict[int, list[int]],
) -> None:
    """Service desk tickets for the demo companies, from a generator of their own (so that
    every record drawn before tickets existed stays as it was): created over the last
    three weeks, due from two days ago to a week ahead (a few within hours of noon on the
    demo's day), a fifth of them complete, four in five with a primary resource."""
    companies = sorted(contact_ids)
    resources = [resource.id for resource in psa.resources() if resource.active]
    if not (companies and resources):
        return
    noon = datetime.combine(today, time(12), UTC)
    statuses = [value for value in TICKET_STATUSES if value != STATUS_COMPLETE]
    for _ in range(size.tickets):
        company_id = rng.choice(companies)
        created = noon - timedelta(hours=rng.randint(1, 21 * 24))
        due = max(created + timedelta(hours=4), noon + timedelta(hours=rng.randint(-48, 168)))
        psa.create_ticket(
            company_id,
            rng.choice(TICKET_TITLES),
            created=created,
            description=rng.choice(TICKET_DESCRIPTIONS),
            contact_id=rng.choice(contact_ids[company_id]),
            status=STATUS_COMPLETE if rng.random() < 0.2 else rng.choice(statuses),
            priority=rng.choice(list(TICKET_PRIORITIES)),
            queue_id=rng.choice(list(TICKET_QUEUES)),
            resource_id=rng.choice(resources) if rng.random() < 0.8 else None,
            due=due,
        )
