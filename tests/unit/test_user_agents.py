"""User agents are classified with crawler-user-agents and ua-parser."""

import crawleruseragents
import pytest

from assets.cloudfront.user_agents import classify

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = IPHONE.replace("iPhone; CPU iPhone OS", "iPad; CPU OS")
WINDOWS_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


@pytest.mark.parametrize(
    "agent, bot_name",
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot"),
        ("curl/8.4.0", "curl"),
    ],
)
def test_crawlers_are_bots_with_a_name(agent, bot_name):
    result = classify(agent)
    assert result["is_bot"] and result["bot_name"] == bot_name and result["device_class"] == "bot"


def test_every_real_crawler_instance_of_the_list_is_a_bot():
    instances = [i for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA[:150] for i in entry.get("instances", [])[:1]]
    assert len(instances) > 100
    assert all(classify(agent)["is_bot"] and classify(agent)["bot_name"] for agent in instances)


@pytest.mark.parametrize(
    "agent, browser, os, device_class",
    [
        (IPHONE, "Mobile Safari", "iOS", "mobile"),
        (IPAD, "Mobile Safari", "iOS", "tablet"),
        (WINDOWS_CHROME, "Chrome", "Windows", "desktop"),
    ],
)
def test_people_get_browser_os_and_device(agent, browser, os, device_class):
    result = classify(agent)
    assert not result["is_bot"] and result["bot_name"] is None
    assert (result["browser"], result["os"], result["device_class"]) == (browser, os, device_class)
