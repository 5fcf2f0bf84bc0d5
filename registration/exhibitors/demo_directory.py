"""Demo: a small exhibitor directory (12 exhibitors, two per exhibition area, 3–4 products
each, in Chinese and English), imported through the organiser's import (safe to run again:
a re-import updates). Called by the registration app's demo with the current edition."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from ciie_portal.spreadsheets import csv_rows_write

from .importer import COLUMNS, directory_import

# (number, name, English name, country, hall, booth, area, zone, smallest order,
#  [(product name, English name, category, English category, GB/T 4754 division,
#    description, English description)])
EXHIBITORS = [
    ("D001", "澳洲阳光乳业有限公司", "Sunshine Dairy Australia Pty Ltd", "AU", "1.1", "1.1A01",
     "food_agricultural_products", "dairy_products", "under_100", [
        ("全脂奶粉", "Whole milk powder", "乳制品", "Dairy products", "14",
         "源自澳洲草饲奶牛", "From grass-fed Australian cows"),
        ("婴幼儿配方奶粉", "Infant formula", "乳制品", "Dairy products", "14", "", ""),
        ("奶酪", "Cheese", "乳制品", "Dairy products", "14", "", ""),
    ]),
    ("D002", "智利果园出口公司", "Chile Orchard Exports S.A.", "CL", "1.1", "1.1B12",
     "food_agricultural_products", "agricultural_products", "100_500", [
        ("车厘子", "Cherries", "水果", "Fruit", "01", "空运冷链直达", "Air-freighted cold chain"),
        ("蓝莓", "Blueberries", "水果", "Fruit", "01", "", ""),
        ("葡萄酒", "Wine", "酒类", "Wine and spirits", "15", "", ""),
        ("牛油果", "Avocados", "水果", "Fruit", "01", "", ""),
    ]),
    ("D003", "德国星辰汽车集团", "Stern Automobile Group AG", "DE", "8.2", "8.2A01",
     "automobile", "smart_mobility", "over_5000", [
        ("纯电动轿车", "Electric saloon", "新能源汽车", "New energy vehicles", "36", "", ""),
        ("自动驾驶系统", "Autonomous driving system", "智能出行", "Smart mobility", "36", "", ""),
        ("车载充电器", "On-board charger", "汽车零部件", "Automotive parts", "36", "", ""),
    ]),
    ("D004", "日本精工汽车部件株式会社", "Seiko Auto Parts Co., Ltd.", "JP", "8.2", "8.2C05",
     "automobile", "", "500_1000", [
        ("变速箱", "Gearbox", "汽车零部件", "Automotive parts", "36", "", ""),
        ("刹车系统", "Braking system", "汽车零部件", "Automotive parts", "36", "", ""),
        ("轮毂轴承", "Wheel bearings", "汽车零部件", "Automotive parts", "34", "", ""),
    ]),
    ("D005", "瑞士精密机床有限公司", "Swiss Precision Machine Tools AG", "CH", "4.1", "4.1A08",
     "technical_equipment", "digital_industry", "1000_2000", [
        ("五轴加工中心", "Five-axis machining centre", "机床", "Machine tools", "34", "", ""),
        ("工业机器人", "Industrial robot", "机器人", "Robots", "34",
         "六轴协作机器人", "Six-axis collaborative robot"),
        ("数控系统", "CNC controller", "工业软件", "Industrial software", "39", "", ""),
    ]),
    ("D006", "荷兰光刻半导体公司", "Lowlands Semiconductor B.V.", "NL", "4.1", "4.1C02",
     "technical_equipment", "integrated_circuits", "over_5000", [
        ("光刻机", "Lithography system", "半导体设备", "Semiconductor equipment", "35", "", ""),
        ("晶圆检测设备", "Wafer inspection tool", "半导体设备", "Semiconductor equipment",
         "35", "", ""),
        ("芯片", "Microchips", "集成电路", "Integrated circuits", "39", "", ""),
    ]),
    ("D007", "法国美丽化妆品集团", "Beauté Cosmetics Group SA", "FR", "6.1", "6.1A03",
     "consumer_goods", "daily_chemicals", "100_500", [
        ("保湿面霜", "Moisturising cream", "化妆品", "Cosmetics", "26", "", ""),
        ("香水", "Perfume", "化妆品", "Cosmetics", "26", "", ""),
        ("洗发水", "Shampoo", "日化用品", "Daily chemicals", "26", "", ""),
        ("口红", "Lipstick", "化妆品", "Cosmetics", "26", "", ""),
    ]),
    ("D008", "意大利家居设计公司", "Casa Italia Design S.p.A.", "IT", "6.1", "6.1B09",
     "consumer_goods", "smart_home", "under_100", [
        ("智能冰箱", "Smart refrigerator", "家电", "Home appliances", "38", "", ""),
        ("真皮沙发", "Leather sofa", "家具", "Furniture", "21", "", ""),
        ("咖啡机", "Coffee machine", "家电", "Home appliances", "38", "", ""),
    ]),
    ("D009", "美国健康医疗器械公司", "American Health Medical Devices Inc.", "US", "7.1", "7.1A01",
     "medical_healthcare", "", "500_1000", [
        ("医疗影像设备", "Medical imaging system", "医疗器械", "Medical devices", "35",
         "高清 CT 扫描", "High-definition CT scanning"),
        ("手术机器人", "Surgical robot", "医疗器械", "Medical devices", "35", "", ""),
        ("血糖仪", "Blood glucose meter", "医疗器械", "Medical devices", "35", "", ""),
    ]),
    ("D010", "丹麦康复养老科技公司", "Nordic Care Technology ApS", "DK", "7.1", "7.1C06",
     "medical_healthcare", "rehabilitation_elderly_care", "under_100", [
        ("电动轮椅", "Power wheelchair", "康复器具", "Rehabilitation aids", "35", "", ""),
        ("护理床", "Nursing bed", "康复器具", "Rehabilitation aids", "35", "", ""),
        ("助听器", "Hearing aid", "医疗器械", "Medical devices", "35", "", ""),
        ("维生素", "Vitamins", "保健品", "Health supplements", "27", "", ""),
    ]),
    ("D011", "英国环球物流服务公司", "Global Logistics Services UK Ltd", "GB", "2.1", "2.1A02",
     "trade_in_services", "", "100_500", [
        ("国际海运", "Ocean freight", "物流服务", "Logistics services", "55", "", ""),
        ("跨境仓储", "Cross-border warehousing", "物流服务", "Logistics services", "59", "", ""),
        ("供应链金融", "Supply chain finance", "金融服务", "Financial services", "66", "", ""),
    ]),
    ("D012", "新加坡数字咨询公司", "Digital Consulting Singapore Pte Ltd", "SG", "2.1", "2.1B04",
     "trade_in_services", "innovation_incubation", "under_100", [
        ("企业数字化咨询", "Digital transformation consulting", "咨询服务",
         "Consulting services", "72", "", ""),
        ("云计算服务", "Cloud computing services", "信息技术服务", "IT services", "65", "", ""),
        ("数据分析软件", "Data analytics software", "软件", "Software", "65", "", ""),
    ]),
]  # fmt: skip


def rows():
    """The demo directory as import rows (dicts keyed by ``importer.COLUMNS``)."""
    for code, name, name_en, country, hall, booth, area, zone, band, products in EXHIBITORS:
        for number, product in enumerate(products, start=1):
            p_name, p_name_en, category, category_en, industry, description, description_en = (
                product
            )
            yield {
                "exhibitor_code": code,
                "exhibitor_name": name,
                "exhibitor_name_en": name_en,
                "country": country,
                "hall": hall,
                "booth": booth,
                "area": area,
                "zone": zone,
                "band": band,
                "contact_name": "",
                "contact_email": f"{code.lower()}@exhibitor.example.com",
                "product_code": f"{code}-{number:02d}",
                "product_name": p_name,
                "product_name_en": p_name_en,
                "category": category,
                "category_en": category_en,
                "industry": industry,
                "description": description,
                "description_en": description_en,
            }


def load(edition) -> None:
    """Import the demo directory for ``edition`` (the organiser's import, audited as "demo")."""
    stream = io.StringIO()
    csv_rows_write(
        stream,
        ([row[key] for key in COLUMNS] for row in rows()),
        titles=[titles[0] for titles in COLUMNS.values()],
    )
    upload = SimpleUploadedFile("demo-directory.csv", stream.getvalue().encode("utf-8"))
    report = directory_import(rows_file=upload, filename=upload.name, edition=edition, actor="demo")
    if report.refused:  # the demo data is wrong: say so rather than load half of it
        raise ValueError(f"demo directory rows refused: {report.refused}")
