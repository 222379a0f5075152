"""Which Zoho CRM modules the connector reads, and which of their fields.

The field lists are what the dbt staging models read (docs/architecture.md): they are requested
first and whatever else the org has fills the rest of Zoho's 50-field budget per call.
"""

from __future__ import annotations

#: object name (raw table suffix) -> Zoho module API name.
MODULES: dict[str, str] = {
    "accounts": "Accounts",
    "contacts": "Contacts",
    "deals": "Deals",
    "products": "Products",
    "leads": "Leads",
    "sales_orders": "Sales_Orders",
    "invoices": "Invoices",
    "tasks": "Tasks",
    "calls": "Calls",
    "events": "Events",
}
#: Modules whose first load may go through Bulk Read (their lookups point at objects landed
#: before them: users, products, accounts, contacts).
BULK_MODULES = frozenset({"Accounts", "Contacts", "Deals"})
#: Where a lookup points, as landed object names: by the metadata's ``lookup.module.api_name``,
#: else by ``<module>.<field>`` (the sandbox's metadata does not name the module).
LOOKUP_TARGETS: dict[str, str] = {
    "Accounts": "accounts",
    "Contacts": "contacts",
    "Products": "products",
    "Deals": "deals",
    "Sales_Orders": "sales_orders",
    "Deals.Account_Name": "accounts",
    "Deals.Contact_Name": "contacts",
    "Deals.Product_Name": "products",
    "Contacts.Account_Name": "accounts",
    "Accounts.Parent_Account": "accounts",
}
#: Extra query parameters per module (Zoho lists converted leads only with ``converted``).
MODULE_PARAMS: dict[str, dict[str, str]] = {"Leads": {"converted": "both"}}
#: The Deals related list read for ``deal_stage_history``.
STAGE_HISTORY_FIELDS = (
    "Stage",
    "Amount",
    "Probability",
    "Expected_Revenue",
    "Closing_Date",
    "Modified_Time",
    "Modified_By",
)
#: Fields the dbt staging models read (docs/architecture.md): requested first, whatever else the
#: org has fills the rest of the 50-field budget.
PREFERRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Deals": (
        "Deal_Name",
        "Amount",
        "Currency",
        "Exchange_Rate",
        "Stage",
        "Probability",
        "Closing_Date",
        "Pipeline",
        "Type",
        "Lead_Source",
        "Owner",
        "Account_Name",
        "Contact_Name",
        "Product_Name",
        "Created_Time",
        "Modified_Time",
    ),
    "Accounts": (
        "Account_Name",
        "Industry",
        "Annual_Revenue",
        "Employees",
        "Billing_Country",
        "Parent_Account",
        "Credit_Limit",
        "Customer_Satisfaction",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Contacts": (
        "First_Name",
        "Last_Name",
        "Full_Name",
        "Email",
        "Account_Name",
        "Date_of_Birth",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Products": (
        "Product_Name",
        "Product_Code",
        "Product_Category",
        "Product_Active",
        "Unit_Price",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Leads": (
        "First_Name",
        "Last_Name",
        "Company",
        "Email",
        "Lead_Source",
        "Lead_Status",
        "Owner",
        "Converted__s",
        "Converted_Date_Time",
        "Converted_Deal",
        "Converted_Account",
        "Converted_Contact",
        "Created_Time",
        "Modified_Time",
    ),
    "Sales_Orders": (
        "Subject",
        "SO_Number",
        "Deal_Name",
        "Account_Name",
        "Contact_Name",
        "Status",
        "Order_Date",
        "Due_Date",
        "Grand_Total",
        "Currency",
        "Exchange_Rate",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Invoices": (
        "Invoice_Number",
        "Invoice_Date",
        "Due_Date",
        "Sales_Order",
        "Account_Name",
        "Status",
        "Grand_Total",
        "Amount_Paid",
        "Last_Payment_Date",
        "Currency",
        "Exchange_Rate",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    # Activities: What_Id is polymorphic; its module comes back as the top-level `$se_module`
    # (``$`` keys are always returned, never requested).
    "Tasks": (
        "Subject",
        "Status",
        "Priority",
        "Due_Date",
        "Closed_Time",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Calls": (
        "Subject",
        "Call_Type",
        "Call_Start_Time",
        "Call_Duration",
        "Call_Duration_in_seconds",
        "Call_Result",
        "Outgoing_Call_Status",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Events": (
        "Event_Title",
        "Start_DateTime",
        "End_DateTime",
        "All_day",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
}
MAX_FIELDS = 50
