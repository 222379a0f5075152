"""Field metadata as ``GET /settings/fields`` answers it, per module, and the fields of the Deals
``Stage_History`` related list."""

from __future__ import annotations

from typing import Any

from flows.sandbox.zoho.encoding.wire import zoho_id

_TEXT, _LOOKUP, _OWNER = ("text", "string"), ("lookup", "jsonobject"), ("ownerlookup", "jsonobject")
_DT, _DATE, _NUM = ("datetime", "string"), ("date", "string"), ("currency", "double")
#: The fields Tasks, Calls and Events share (after each module's own): what/who links, owner, times.
_ACTIVITY_COMMON = {
    "What_Id": _LOOKUP,
    "Who_Id": _LOOKUP,
    "Owner": _OWNER,
    "Description": ("textarea", "string"),
    "Created_Time": _DT,
    "Modified_Time": _DT,
    "Tag": ("multiselectpicklist", "jsonarray"),
}
FIELD_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    "Deals": {
        "Deal_Name": _TEXT,
        "Amount": _NUM,
        "Currency": ("picklist", "string"),
        "Exchange_Rate": ("double", "double"),
        "Stage": ("picklist", "string"),
        "Probability": ("integer", "integer"),
        "Expected_Revenue": _NUM,
        "Closing_Date": _DATE,
        "Pipeline": ("picklist", "jsonobject"),
        "Type": ("picklist", "string"),
        "Lead_Source": ("picklist", "string"),
        "Owner": _OWNER,
        "Account_Name": _LOOKUP,
        "Contact_Name": _LOOKUP,
        "Product_Name": _LOOKUP,
        "Description": ("textarea", "string"),
        "Next_Step": _TEXT,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Created_By": _OWNER,
        "Modified_By": _OWNER,
    },
    "Accounts": {
        "Account_Name": _TEXT,
        "Industry": ("picklist", "string"),
        "Annual_Revenue": _NUM,
        "Employees": ("integer", "integer"),
        "Billing_Country": _TEXT,
        "Parent_Account": _LOOKUP,
        "Account_Type": ("picklist", "string"),
        "Credit_Limit": _NUM,
        "Customer_Satisfaction": ("integer", "integer"),
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Website": ("website", "string"),
        "Phone": ("phone", "string"),
    },
    "Contacts": {
        "First_Name": _TEXT,
        "Last_Name": _TEXT,
        "Full_Name": _TEXT,
        "Email": ("email", "string"),
        "Account_Name": _LOOKUP,
        "Date_of_Birth": _DATE,
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Phone": ("phone", "string"),
        "Title": _TEXT,
    },
    "Products": {
        "Product_Name": _TEXT,
        "Product_Code": _TEXT,
        "Product_Category": ("picklist", "string"),
        "Product_Active": ("boolean", "boolean"),
        "Unit_Price": _NUM,
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
    },
    "Leads": {
        "First_Name": _TEXT,
        "Last_Name": _TEXT,
        "Full_Name": _TEXT,
        "Company": _TEXT,
        "Email": ("email", "string"),
        "Lead_Source": ("picklist", "string"),
        "Lead_Status": ("picklist", "string"),
        "Owner": _OWNER,
        "Converted__s": ("boolean", "boolean"),
        "Converted_Date_Time": _DT,
        "Converted_Deal": _LOOKUP,
        "Converted_Account": _LOOKUP,
        "Converted_Contact": _LOOKUP,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
    },
    "Sales_Orders": {
        "Subject": _TEXT,
        "SO_Number": ("autonumber", "string"),
        "Deal_Name": _LOOKUP,
        "Account_Name": _LOOKUP,
        "Contact_Name": _LOOKUP,
        "Status": ("picklist", "string"),
        "Order_Date": _DATE,
        "Due_Date": _DATE,
        "Sub_Total": _NUM,
        "Grand_Total": _NUM,
        "Currency": ("picklist", "string"),
        "Exchange_Rate": ("double", "double"),
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
    },
    "Invoices": {
        "Subject": _TEXT,
        "Invoice_Number": ("autonumber", "string"),
        "Invoice_Date": _DATE,
        "Due_Date": _DATE,
        "Sales_Order": _LOOKUP,
        "Account_Name": _LOOKUP,
        "Status": ("picklist", "string"),
        "Sub_Total": _NUM,
        "Grand_Total": _NUM,
        "Amount_Paid": _NUM,
        "Last_Payment_Date": _DATE,
        "Currency": ("picklist", "string"),
        "Exchange_Rate": ("double", "double"),
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
    },
    "Tasks": {
        "Subject": _TEXT,
        "Status": ("picklist", "string"),
        "Priority": ("picklist", "string"),
        "Due_Date": _DATE,
        "Closed_Time": _DT,
        **_ACTIVITY_COMMON,
    },
    "Calls": {
        "Subject": _TEXT,
        "Call_Type": ("picklist", "string"),
        "Call_Start_Time": _DT,
        "Call_Duration": _TEXT,
        "Call_Duration_in_seconds": ("integer", "integer"),
        "Call_Result": ("picklist", "string"),
        "Outgoing_Call_Status": ("picklist", "string"),
        "Call_Purpose": ("picklist", "string"),
        **_ACTIVITY_COMMON,
    },
    "Events": {
        "Event_Title": _TEXT,
        "Start_DateTime": _DT,
        "End_DateTime": _DT,
        "All_day": ("boolean", "boolean"),
        "Participants": ("multiselectlookup", "jsonarray"),
        "Venue": _TEXT,
        **_ACTIVITY_COMMON,
    },
}
#: Org custom fields (``custom_field: true`` in the metadata).
CUSTOM_FIELDS = {
    "Product_Name",
    "Credit_Limit",
    "Customer_Satisfaction",
    "Order_Date",
    "Amount_Paid",
    "Last_Payment_Date",
}
#: Fields of the Deals ``Stage_History`` related list.
STAGE_HISTORY_FIELDS = (
    "Stage",
    "Amount",
    "Probability",
    "Expected_Revenue",
    "Closing_Date",
    "Modified_Time",
    "Modified_By",
)


def field_metadata(module: str, extra_custom: int = 0) -> list[dict[str, Any]]:
    """Field metadata like ``/settings/fields``. One custom field deliberately lacks ``json_type``
    (Airbyte #27422 broke on that); ``extra_custom`` adds more custom fields to push a module past
    the 50-field ``fields`` limit."""
    fields = [
        {
            "api_name": name,
            "field_label": name.replace("_", " "),
            "data_type": dt,
            "json_type": jt,
            "id": zoho_id("profiles", 100 + i),
            "custom_field": name in CUSTOM_FIELDS,
            "visible": True,
        }
        for i, (name, (dt, jt)) in enumerate(FIELD_TYPES.get(module, {}).items())
    ]
    fields.append(
        {
            "api_name": "Legacy_Score__c",
            "field_label": "Legacy Score",
            "data_type": "formula",
            "custom_field": True,
            "visible": True,
        }
    )
    for i in range(extra_custom):
        fields.append(
            {
                "api_name": f"Custom_Field_{i + 1}__c",
                "field_label": f"Custom {i + 1}",
                "data_type": "text",
                "json_type": "string",
                "custom_field": True,
                "visible": True,
            }
        )
    return fields
