"""Reference data: 广东交易团 and its 27 sub-delegations.

Source: the organiser's guide to the 2nd CIIE (2019), annex 2 "各分团秘书处联络员联系表": row 1 is
广东交易团, rows 2–27 its 26 分团, with contact unit, person and phone exactly as printed. The
guide to the 4th CIIE (2021, issued by 广东省科学技术厅) adds 广东科技交易分团, organised by the
provincial science and technology department through two contact offices.
"""

from django.db import migrations

# (row, name, contact unit, contact person, phone) as in annex 2.
ANNEX_2 = [
    (1, "广东交易团", "广东省商务厅", "彭晓瑜、张静虹、张杨", "020-38819873/9845/9883"),
    (2, "广东广州交易分团", "广州市商务委", "陈振东", "020-81067497"),
    (3, "广东佛山交易分团", "佛山市商务局", "袁永新", "0757-83350029"),
    (4, "广东珠海交易分团", "珠海市商务局", "王诗宇", "0756-2159876"),
    (5, "广东东莞交易分团", "东莞市商务局", "黄佩华", "0769-22888290"),
    (6, "广东汕头交易分团", "汕头市商务局", "黄虹", "0754-88931822"),
    (7, "广东中山交易分团", "中山市商务局", "何哲", "0760-89892373"),
    (8, "广东惠州交易分团", "惠州市商务局", "曹华琼", "0752-2233030"),
    (9, "广东江门交易分团", "江门市商务局", "卢亚旻", "0750-3507982"),
    (10, "广东肇庆交易分团", "肇庆市商务局", "卢嘉琦", "0758-2837319"),
    (11, "广东湛江交易分团", "湛江市商务局", "周志强", "0759-3620136"),
    (12, "广东阳江交易分团", "阳江市商务局", "仇璐", "0662-3362869"),
    (13, "广东河源交易分团", "河源市商务局", "李毅", "0762-3387039"),
    (14, "广东梅州交易分团", "梅州市商务局", "万和明", "0753-2258963"),
    (15, "广东韶关交易分团", "韶关市商务局", "廖薇薇", "0751-8883731"),
    (16, "广东汕尾交易分团", "汕尾市商务局", "李青", "0660-3385600"),
    (17, "广东揭阳交易分团", "揭阳市商务局", "吴武佳", "0663-8768007"),
    (18, "广东潮州交易分团", "潮州市商务局", "黄炯桐", "0768-2398035"),
    (19, "广东茂名交易分团", "茂名市商务局", "曾居庆", "0668-2882147"),
    (20, "广东清远交易分团", "清远市商务局", "陈燕华", "0763-3363850"),
    (21, "广东云浮交易分团", "云浮市商务局", "李媛", "0766-8833107"),
    (22, "广东贸促交易分团", "省贸促会", "甘婷", "020-87300378"),
    (23, "广东国企交易分团", "省国资委", "吴明捷", "020-38306303"),
    (24, "广东文旅交易分团", "省文旅厅", "朱国荣", "020-37803455"),
    (25, "广东工商联交易分团", "省工商联", "肖娟", "020-83236799"),
    (26, "广东卫生健康交易分团", "省卫健委", "吴祥盛", "020-83828301、83885173"),
    (27, "广东农业交易分团", "省农业农村厅", "吴光格", "020-37288232"),
]

CODES = {
    1: "gd", 2: "gd-guangzhou", 3: "gd-foshan", 4: "gd-zhuhai", 5: "gd-dongguan",
    6: "gd-shantou", 7: "gd-zhongshan", 8: "gd-huizhou", 9: "gd-jiangmen", 10: "gd-zhaoqing",
    11: "gd-zhanjiang", 12: "gd-yangjiang", 13: "gd-heyuan", 14: "gd-meizhou",
    15: "gd-shaoguan", 16: "gd-shanwei", 17: "gd-jieyang", 18: "gd-chaozhou", 19: "gd-maoming",
    20: "gd-qingyuan", 21: "gd-yunfu", 22: "gd-ccpit", 23: "gd-soe", 24: "gd-culture-tourism",
    25: "gd-federation-commerce", 26: "gd-health", 27: "gd-agriculture",
}

SCIENCE = {
    "name": "广东科技交易分团",
    "code": "gd-science-technology",
    "contact_unit": "广东省科学技术厅",
    "contacts": [
        ("省科技合作研究促进中心", "丘雅、黄莎莎", "020-83717947、83163254",
         "skjt_huangss@gd.gov.cn"),
        ("省科技厅成果与区域处", "郭映琦、杨保志", "020-83163891、83163862", ""),
    ],
}


def load(apps, schema_editor):
    Delegation = apps.get_model("delegations", "Delegation")
    DelegationContact = apps.get_model("delegations", "DelegationContact")
    group = None
    for row, name, unit, person, phone in ANNEX_2:
        delegation = Delegation.objects.create(
            name=name,
            code=CODES[row],
            parent=group,
            contact_unit=unit,
            province_code="440000" if group is None else "",
            position=row,
        )
        DelegationContact.objects.create(
            delegation=delegation, office=unit, persons=person, phone=phone
        )
        group = group or delegation
    science = Delegation.objects.create(
        name=SCIENCE["name"],
        code=SCIENCE["code"],
        parent=group,
        contact_unit=SCIENCE["contact_unit"],
        position=len(ANNEX_2) + 1,
    )
    for position, (office, persons, phone, email) in enumerate(SCIENCE["contacts"]):
        DelegationContact.objects.create(
            delegation=science, office=office, persons=persons, phone=phone, email=email,
            position=position,
        )


def unload(apps, schema_editor):
    Delegation = apps.get_model("delegations", "Delegation")
    codes = list(CODES.values()) + [SCIENCE["code"]]
    Delegation.objects.filter(code__in=codes, parent__isnull=False).delete()
    Delegation.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("delegations", "0002_initial")]

    operations = [migrations.RunPython(load, unload)]
