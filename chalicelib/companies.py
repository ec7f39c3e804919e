"""Companies: the tenants. Integer ids, a name and a plan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import aws, clock, plans
from chalicelib.errors import NotFound, Unprocessable


@dataclass(frozen=True)
class Company:
    company_id: int
    name: str
    plan: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "name": self.name, "plan": self.plan,
                "created_at": self.created_at}


def _from_item(item: dict[str, Any]) -> Company:
    values = aws.from_attributes(item)
    return Company(values["company_id"], values["name"], values["plan"], values["created_at"])


def create(name: str, plan: str) -> Company:
    """Create a company with the next free id."""
    name = name.strip()
    if not name or len(name) > 255:
        raise Unprocessable("a company name has 1 to 255 characters", path="name")
    plans.check_plan(plan)
    company = Company(aws.next_id("company"), name, plan, clock.now_iso())
    aws.dynamodb().put_item(
        TableName=aws.table_name("companies"),
        Item=aws.to_attributes(company.to_json()),
        ConditionExpression="attribute_not_exists(company_id)",
    )
    return company


def get(company_id: int) -> Company | None:
    """The company with this id, or None."""
    response = aws.dynamodb().get_item(
        TableName=aws.table_name("companies"),
        Key={"company_id": {"N": str(company_id)}},
    )
    item = response.get("Item")
    return _from_item(item) if item else None


def list_all() -> list[Company]:
    """Every company, by id (an operator's view; a scan is fine at this size)."""
    paginator = aws.dynamodb().get_paginator("scan")
    companies = [
        _from_item(item)
        for page in paginator.paginate(TableName=aws.table_name("companies"))
        for item in page.get("Items", [])
    ]
    return sorted(companies, key=lambda c: c.company_id)


def set_plan(company_id: int, plan: str) -> Company:
    """Move a company to another plan. Existing webhooks stay; new ones obey the new limit."""
    plans.check_plan(plan)
    try:
        response = aws.dynamodb().update_item(
            TableName=aws.table_name("companies"),
            Key={"company_id": {"N": str(company_id)}},
            UpdateExpression="SET #plan = :plan",
            ConditionExpression="attribute_exists(company_id)",
            ExpressionAttributeNames={"#plan": "plan"},
            ExpressionAttributeValues={":plan": {"S": plan}},
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            raise NotFound(f"no company {company_id}") from None
        raise
    return _from_item(response["Attributes"])
