"""The retail store's tools, written here from τ-bench's published tool schemas and policy.

The database is `{"orders": ..., "products": ..., "users": ...}` as τ-bench and τ²-bench ship
it. Every write reproduces the effect τ-bench's tools have on it (field names, status strings,
float arithmetic and rounding), so that replaying a task's gold actions yields τ-bench's gold
hash. Each trial sees the shared base database through a copy-on-write view: a record is
deep-copied the first time a tool changes it, and only changed records are re-hashed.
"""

from __future__ import annotations

import ast
import copy
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal

from roibench.config.tasks import Action, Task
from roibench.workflow import Env, ToolError, tool

from .hashing import IncrementalHasher

TRANSFER_TOOL = "transfer_to_human_agents"
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate_arithmetic(expression: str) -> float:
    """Value of an expression of numbers, + - * /, parentheses and spaces (no names, no calls)."""
    if not expression.strip() or any(ch not in "0123456789+-*/(). " for ch in expression):
        raise ToolError("invalid characters in expression")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ToolError("invalid expression") from None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        raise ToolError("invalid expression")

    try:
        return float(walk(tree))
    except ZeroDivisionError:
        raise ToolError("division by zero") from None


class TauStore:
    """A loaded retail database shared by every trial: the base records and their hash cache."""

    def __init__(self, db: Mapping[str, dict[str, Any]]) -> None:
        self.base = db
        self.hasher = IncrementalHasher(db)


class TauRetailEnv(Env):
    """An online store's customer, order and product systems (τ-bench retail)."""

    def __init__(self, task: Task, store: TauStore | None = None) -> None:
        super().__init__(task)  # task.initial_state holds only the task's metadata
        if store is None:
            raise ValueError("TauRetailEnv needs the workflow's TauStore (use workflow.new_env)")
        self.store = store
        self.state = {name: dict(coll) for name, coll in store.base.items()}
        self.dirty: dict[str, set[str]] = {name: set() for name in store.base}

    # -- the copy-on-write view ------------------------------------------------------------

    def _writable(self, collection: str, key: str) -> dict[str, Any]:
        """The record, copied out of the shared base the first time it is written."""
        changed = self.dirty[collection]
        if key not in changed:
            self.state[collection][key] = copy.deepcopy(self.state[collection][key])
            changed.add(key)
        return self.state[collection][key]

    def db_hash(self) -> str:
        """τ-bench's hash of this trial's database."""
        return self.store.hasher.digest(self.state, self.dirty)

    def replay(
        self, actions: list[Action], skip: frozenset[str] = frozenset({TRANSFER_TOOL})
    ) -> list[str]:
        """Run actions synchronously (gold replay); returns each tool's output or error text."""
        out = []
        for action in actions:
            if action.tool in skip:
                continue
            spec = self.tool_specs().get(action.tool)
            if spec is None:
                out.append(f"error: unknown tool {action.tool!r}")
                continue
            args = spec.args_model.model_validate(action.args)
            try:
                result = getattr(self, action.tool)(
                    **{k: getattr(args, k) for k in type(args).model_fields}
                )
            except ToolError as exc:
                out.append(self._record(action.tool, dict(action.args), f"error: {exc}", ok=False))
                continue
            text = result if isinstance(result, str) else json.dumps(result)
            out.append(self._record(action.tool, dict(action.args), text, ok=True))
        return out

    # -- lookups ---------------------------------------------------------------------------

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.state["orders"].get(order_id)
        if order is None:
            raise ToolError("order not found")
        return order

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.state["users"].get(user_id)
        if user is None:
            raise ToolError("user not found")
        return user

    def _check_items(self, order: dict[str, Any], item_ids: list[str], message: str) -> None:
        present = [item["item_id"] for item in order["items"]]
        for item_id in item_ids:
            if item_ids.count(item_id) > present.count(item_id):
                raise ToolError(message.format(item_id=item_id))

    def _price_difference(
        self, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str]
    ) -> float:
        """New minus old price over the pairs, summed left to right in floats (as τ-bench does)."""
        if len(item_ids) != len(new_item_ids):
            raise ToolError("the number of items to be exchanged should match")
        products = self.state["products"]
        diff: float = 0
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            variants = products[item["product_id"]]["variants"]
            variant = variants.get(new_item_id)
            if variant is None or not variant["available"]:
                raise ToolError(f"new item {new_item_id} not found or available")
            diff += variant["price"] - item["price"]
        return diff

    def _payment_method(self, order: dict[str, Any], payment_method_id: str) -> dict[str, Any]:
        methods = self.state["users"][order["user_id"]]["payment_methods"]
        if payment_method_id not in methods:
            raise ToolError("payment method not found")
        return methods[payment_method_id]

    # -- read tools ------------------------------------------------------------------------

    @tool
    def find_user_id_by_email(self, email: str) -> str:
        """Find a customer's user id by email address (e.g. 'jane.doe1234@example.com')."""
        for user_id, user in self.state["users"].items():
            if user["email"].lower() == email.lower():
                return user_id
        raise ToolError("user not found")

    @tool
    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        """Find a customer's user id by first name, last name and zip code. Prefer
        find_user_id_by_email; use this when the customer cannot give their email."""
        for user_id, user in self.state["users"].items():
            name = user["name"]
            if (
                name["first_name"].lower() == first_name.lower()
                and name["last_name"].lower() == last_name.lower()
                and user["address"]["zip"] == zip
            ):
                return user_id
        raise ToolError("user not found")

    @tool
    def get_user_details(self, user_id: str) -> dict[str, Any]:
        """A customer's profile: name, email, default address, payment methods, order ids."""
        return self._user(user_id)

    @tool
    def get_order_details(self, order_id: str) -> dict[str, Any]:
        """An order's status, items, address, fulfilments and payments. Order ids start with
        '#', e.g. '#W0000000'."""
        return self._order(order_id)

    @tool
    def get_product_details(self, product_id: str) -> dict[str, Any]:
        """A product type and all its variant items with options, availability and price.
        A product id (e.g. '6086499569') is not an item id."""
        product = self.state["products"].get(product_id)
        if product is None:
            raise ToolError("product not found")
        return product

    @tool
    def get_item_details(self, item_id: str) -> dict[str, Any]:
        """One variant item by item id: its options, availability and price (τ²-bench)."""
        for product in self.state["products"].values():
            variant = product["variants"].get(item_id)
            if variant is not None:
                return variant
        raise ToolError("item not found")

    @tool
    def list_all_product_types(self) -> dict[str, str]:
        """The store's 50 product types: name -> product id, sorted by name."""
        names = {p["name"]: p["product_id"] for p in self.state["products"].values()}
        return dict(sorted(names.items()))

    @tool
    def calculate(self, expression: str) -> str:
        """Evaluate arithmetic such as '(24.51 + 3.2) * 2': numbers, + - * /, parentheses."""
        return str(round(evaluate_arithmetic(expression), 2))

    @tool
    def think(self, thought: str) -> str:
        """Write down a thought (no effect on anything; for working through a problem)."""
        del thought
        return ""

    @tool(escalation=True)
    def transfer_to_human_agents(self, summary: str) -> str:
        """Hand the customer to a human agent with a summary of their issue. Only when the
        customer asks for a human or the request cannot be handled with these tools."""
        del summary
        return "Transfer successful"

    # -- write tools -----------------------------------------------------------------------

    @tool(write=True)
    def cancel_pending_order(
        self, order_id: str, reason: Literal["no longer needed", "ordered by mistake"]
    ) -> dict[str, Any]:
        """Cancel a pending order after the customer confirms (yes). Every payment is refunded:
        at once to a gift card, else in 5-7 business days. Returns the order."""
        if self._order(order_id)["status"] != "pending":
            raise ToolError("non-pending order cannot be cancelled")
        order = self._writable("orders", order_id)
        refunds = []
        for payment in order["payment_history"]:
            method_id = payment["payment_method_id"]
            refunds.append(
                {
                    "transaction_type": "refund",
                    "amount": payment["amount"],
                    "payment_method_id": method_id,
                }
            )
            if "gift_card" in method_id:
                method = self._writable("users", order["user_id"])["payment_methods"][method_id]
                method["balance"] = round(method["balance"] + payment["amount"], 2)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return order

    @tool(write=True)
    def modify_pending_order_address(
        self,
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> dict[str, Any]:
        """Change a pending order's shipping address after the customer confirms (yes)."""
        if self._order(order_id)["status"] != "pending":
            raise ToolError("non-pending order cannot be modified")
        order = self._writable("orders", order_id)
        order["address"] = {
            "address1": address1,
            "address2": address2,
            "city": city,
            "state": state,
            "country": country,
            "zip": zip,
        }
        return order

    @tool(write=True)
    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> dict[str, Any]:
        """Pay a pending order with another of the customer's payment methods, after they
        confirm (yes); the original payment is refunded. A gift card must cover the total."""
        current = self._order(order_id)
        if current["status"] != "pending":
            raise ToolError("non-pending order cannot be modified")
        method = self._payment_method(current, payment_method_id)
        history = current["payment_history"]
        if len(history) > 1 or history[0]["transaction_type"] != "payment":
            raise ToolError("there should be exactly one payment for a pending order")
        original_id = history[0]["payment_method_id"]
        if original_id == payment_method_id:
            raise ToolError("the new payment method should be different from the current one")
        amount = history[0]["amount"]
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ToolError("insufficient gift card balance to pay for the order")
        order = self._writable("orders", order_id)
        order["payment_history"].extend(
            [
                {
                    "transaction_type": "payment",
                    "amount": amount,
                    "payment_method_id": payment_method_id,
                },
                {"transaction_type": "refund", "amount": amount, "payment_method_id": original_id},
            ]
        )
        methods = self._writable("users", order["user_id"])["payment_methods"]
        if methods[payment_method_id]["source"] == "gift_card":
            methods[payment_method_id]["balance"] = round(
                methods[payment_method_id]["balance"] - amount, 2
            )
        if "gift_card" in original_id:
            methods[original_id]["balance"] = round(methods[original_id]["balance"] + amount, 2)
        return order

    @tool(write=True)
    def modify_pending_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Swap items of a pending order for other variants of the same products (once per
        order; status becomes 'pending (item modified)'), after the customer confirms (yes).
        The price difference is paid with or refunded to `payment_method_id`."""
        current = self._order(order_id)
        if current["status"] != "pending":
            raise ToolError("non-pending order cannot be modified")
        self._check_items(current, item_ids, "{item_id} not found")
        diff = self._price_difference(current, item_ids, new_item_ids)
        method = self._payment_method(current, payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < diff:
            raise ToolError("insufficient gift card balance to pay for the new item")
        order = self._writable("orders", order_id)
        order["payment_history"].append(
            {
                "transaction_type": "payment" if diff > 0 else "refund",
                "amount": abs(diff),
                "payment_method_id": payment_method_id,
            }
        )
        if method["source"] == "gift_card":
            user_method = self._writable("users", order["user_id"])["payment_methods"][
                payment_method_id
            ]
            user_method["balance"] = round(user_method["balance"] - diff, 2)
        products = self.state["products"]
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            variant = products[item["product_id"]]["variants"][new_item_id]
            item["item_id"] = new_item_id
            item["price"] = variant["price"]
            item["options"] = copy.deepcopy(variant["options"])
        order["status"] = "pending (item modified)"
        return order

    @tool(write=True)
    def return_delivered_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Request the return of items of a delivered order, after the customer confirms (yes).
        The refund goes to the original payment method or a gift card; status becomes
        'return requested' and the customer is emailed how to send the items back."""
        current = self._order(order_id)
        if current["status"] != "delivered":
            raise ToolError("non-delivered order cannot be returned")
        self._payment_method(current, payment_method_id)
        if (
            "gift_card" not in payment_method_id
            and payment_method_id != current["payment_history"][0]["payment_method_id"]
        ):
            raise ToolError(
                "payment method should be either the original payment method or a gift card"
            )
        self._check_items(current, item_ids, "some item not found")
        order = self._writable("orders", order_id)
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return order

    @tool(write=True)
    def exchange_delivered_order_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Exchange items of a delivered order for other variants of the same products (once
        per order), after the customer confirms (yes). The price difference is paid with or
        refunded to `payment_method_id`; status becomes 'exchange requested'."""
        current = self._order(order_id)
        if current["status"] != "delivered":
            raise ToolError("non-delivered order cannot be exchanged")
        self._check_items(current, item_ids, "{item_id} not found")
        diff = round(self._price_difference(current, item_ids, new_item_ids), 2)
        method = self._payment_method(current, payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < diff:
            raise ToolError("insufficient gift card balance to pay for the price difference")
        order = self._writable("orders", order_id)
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = diff
        return order

    @tool(write=True)
    def modify_user_address(
        self,
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> dict[str, Any]:
        """Change a customer's default address, after they confirm (yes)."""
        self._user(user_id)
        user = self._writable("users", user_id)
        user["address"] = {
            "address1": address1,
            "address2": address2,
            "city": city,
            "state": state,
            "country": country,
            "zip": zip,
        }
        return user
