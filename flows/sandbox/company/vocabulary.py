"""The words the company generator draws from: people's and companies' names, industries, lead
sources, the product catalogue, activity subjects. Data only, so the generator modules stay logic."""

from __future__ import annotations

from decimal import Decimal

FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Chloe",
    "Leo",
    "Hannah",
    "Felix",
    "Clara",
    "Jonas",
    "Elena",
    "Oscar",
    "Ines",
    "Marco",
]
LAST = [
    "Walker",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Novak",
    "Jensen",
    "Garcia",
    "Silva",
    "Murphy",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Fischer",
    "Keller",
    "Brennan",
    "Costa",
    "Weber",
    "Bauer",
    "Laurent",
    "Hughes",
]
CN_SURNAME = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"]
CN_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "雨檬",
    "子涵",
]
CN_PINYIN = {
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
    "黄": "huang",
    "赵": "zhao",
    "吴": "wu",
    "周": "zhou",
    "徐": "xu",
    "孙": "sun",
    "马": "ma",
    "朱": "zhu",
    "胡": "hu",
    "郭": "guo",
}
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oscorp",
    "Gringotts",
    "Aperture",
    "Massive",
]
COMPANY_SUFFIX = ["Inc", "GmbH", "Ltd", "SA", "Group", "Holdings", "Systems", "Labs"]
CN_COMPANY = [
    "华信",
    "东方",
    "长城",
    "金桥",
    "远航",
    "恒达",
    "新世纪",
    "瑞丰",
    "天成",
    "中联",
    "海纳",
    "鼎盛",
]
CN_SUFFIX = ["科技有限公司", "贸易有限公司", "集团", "制造有限公司", "信息技术有限公司"]
INDUSTRIES = ["Manufacturing", "Retail", "Technology", "Finance", "Healthcare", "Logistics", "Energy"]
LEAD_SOURCES = ["Cold Call", "Advertisement", "Partner", "Web Download", "Trade Show", "Employee Referral"]

PRODUCTS: list[tuple[str, str, Decimal]] = [  # name, series, list price in USD
    ("SalesOps Cloud Starter", "Cloud", Decimal("4800.00")),
    ("SalesOps Cloud Pro", "Cloud", Decimal("18000.00")),
    ("SalesOps Cloud Enterprise", "Cloud", Decimal("60000.00")),
    ("Analytics Add-on", "Add-on", Decimal("7200.00")),
    ("Implementation Services", "Services", Decimal("25000.00")),
]
LEAD_STATUSES = ["Not Contacted", "Contacted", "Qualified", "Lost Lead"]
TASK_SUBJECTS = [
    "Send proposal",
    "Prepare quote",
    "Follow up on demo",
    "Update account plan",
    "Send contract",
]
CALL_SUBJECTS = ["Discovery call", "Follow-up call", "Pricing call", "Check-in call"]
EVENT_SUBJECTS = ["Product demo", "On-site meeting", "Quarterly business review", "Kick-off meeting"]
CALL_RESULTS = ["Interested", "Left voicemail", "Requested more info", "Not interested", None]
