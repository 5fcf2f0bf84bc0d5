"""English names of delegations (shown to visitors who use the portal in English), filled in for
广东交易团 and its sub-delegations of migration 0003."""

from django.db import migrations, models

# code → English name: the portal's own translations. The cities' sub-delegations are named
# after the city alone ("Guangzhou Sub-delegation"), the others after their organising body.
ENGLISH = {
    "gd": "Guangdong Trading Delegation",
    "gd-guangzhou": "Guangzhou Sub-delegation",
    "gd-foshan": "Foshan Sub-delegation",
    "gd-zhuhai": "Zhuhai Sub-delegation",
    "gd-dongguan": "Dongguan Sub-delegation",
    "gd-shantou": "Shantou Sub-delegation",
    "gd-zhongshan": "Zhongshan Sub-delegation",
    "gd-huizhou": "Huizhou Sub-delegation",
    "gd-jiangmen": "Jiangmen Sub-delegation",
    "gd-zhaoqing": "Zhaoqing Sub-delegation",
    "gd-zhanjiang": "Zhanjiang Sub-delegation",
    "gd-yangjiang": "Yangjiang Sub-delegation",
    "gd-heyuan": "Heyuan Sub-delegation",
    "gd-meizhou": "Meizhou Sub-delegation",
    "gd-shaoguan": "Shaoguan Sub-delegation",
    "gd-shanwei": "Shanwei Sub-delegation",
    "gd-jieyang": "Jieyang Sub-delegation",
    "gd-chaozhou": "Chaozhou Sub-delegation",
    "gd-maoming": "Maoming Sub-delegation",
    "gd-qingyuan": "Qingyuan Sub-delegation",
    "gd-yunfu": "Yunfu Sub-delegation",
    "gd-ccpit": "CCPIT Sub-delegation",
    "gd-soe": "State-owned Enterprises Sub-delegation",
    "gd-culture-tourism": "Culture and Tourism Sub-delegation",
    "gd-federation-commerce": "Federation of Industry and Commerce Sub-delegation",
    "gd-health": "Health Sub-delegation",
    "gd-agriculture": "Agriculture Sub-delegation",
    "gd-science-technology": "Science and Technology Sub-delegation",
}


def fill(apps, schema_editor):
    Delegation = apps.get_model("delegations", "Delegation")
    for delegation in Delegation.objects.filter(code__in=ENGLISH, name_en=""):
        delegation.name_en = ENGLISH[delegation.code]
        delegation.save(update_fields=["name_en"])


class Migration(migrations.Migration):
    dependencies = [("delegations", "0004_quotas_and_mail")]

    operations = [
        migrations.AddField(
            model_name="delegation",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text=(
                    "Shown to visitors who use the portal in English; empty: the Chinese name."
                ),
                max_length=100,
                verbose_name="name in English",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
