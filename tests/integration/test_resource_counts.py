"""Clockodo's page numbers and counts, kept rather than counted: an unfiltered page reads
the items up to its end, and its count is one item kept with every create and delete."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib import aws, resource_store, resources
from tests.integration.conftest import Tenant
from tests.reads import ItemsRead

CUSTOMER = resources.get("customer")


def customers(tenant: Tenant, count: int) -> list[int]:
    return [tenant.call("POST", "/v3/customers", {"name": f"C{i}"}).json_body["data"]["id"]
            for i in range(count)]


def test_counts_are_kept_with_every_create_and_delete(tenant: Tenant) -> None:
    ids = customers(tenant, 7)
    assert tenant.call("DELETE", f"/v3/customers/{ids[2]}").status_code == 200
    assert tenant.call("DELETE", f"/v3/customers/{ids[2]}").status_code == 404  # not twice
    kept = [i for i in ids if i != ids[2]]
    assert resource_store.count(tenant.company_id, CUSTOMER) == 6
    second = tenant.call("GET", "/v3/customers?items_per_page=4&page=2").json_body
    assert second["paging"] == {"items_per_page": 4, "current_page": 2, "count_pages": 2,
                                "count_items": 6}
    assert [c["id"] for c in second["data"]] == kept[4:]
    beyond = tenant.call("GET", "/v3/customers?items_per_page=4&page=9").json_body
    assert beyond["data"] == [] and beyond["paging"]["count_items"] == 6
    # the same answer as the filtered path, which reads and counts everything
    everything = tenant.call("GET", "/v3/customers?items_per_page=4&page=2&sort=id").json_body
    assert everything == second


def test_a_page_reads_only_up_to_its_end_whatever_the_company_holds(tenant: Tenant) -> None:
    customers(tenant, 40)
    with ItemsRead() as first:
        page = tenant.call("GET", "/v3/customers?items_per_page=5")
    assert page.status_code == 200 and len(page.json_body["data"]) == 5
    assert page.json_body["paging"]["count_items"] == 40
    # the API user's key and company, the count, and the page's 5 customers
    assert first.items <= 5 + 4, first.items
    with ItemsRead() as third:
        tenant.call("GET", "/v3/customers?items_per_page=5&page=3")
    assert third.items <= 15 + 4, third.items
    with ItemsRead() as filtered:  # a filter reads the type whole, as documented
        tenant.call("GET", "/v3/customers?items_per_page=5&filter%5Bactive%5D=true")
    assert filtered.items >= 40


def test_concurrent_creates_and_deletes_keep_the_count_exact(tenant: Tenant) -> None:
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: resource_store.create(
            tenant.company_id, CUSTOMER, {"name": f"P{i}"}), range(24)))
        list(pool.map(lambda i: resource_store.delete(tenant.company_id, CUSTOMER, i),
                      created[:10]))
    assert resource_store.count(tenant.company_id, CUSTOMER) == 14
    listed = tenant.call("GET", "/v3/customers?items_per_page=100").json_body
    assert listed["paging"]["count_items"] == 14 == len(listed["data"])


def test_a_company_whose_counts_were_never_seeded_is_listed_by_reading(
        tenant: Tenant) -> None:
    """A company made before counts were kept has customers its count never saw: its
    lists are read whole and counted by reading, whatever its count items say."""
    ids = customers(tenant, 5)
    aws.dynamodb().delete_item(TableName=aws.table_name("counters"),
                               Key={"name": {"S": f"count:{tenant.company_id}:customer"}})
    assert tenant.call("DELETE", f"/v3/customers/{ids[0]}").status_code == 200  # ADD -1
    assert resource_store.count(tenant.company_id, CUSTOMER) is None
    listed = tenant.call("GET", "/v3/customers?items_per_page=2&page=2").json_body
    assert listed["paging"]["count_items"] == 4
    assert [c["id"] for c in listed["data"]] == ids[3:5]
