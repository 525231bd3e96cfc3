"""setup.cfg installs keras_dl and nothing else: every subpackage listed, recipes/ under keras_dl."""

import configparser
import os

import pytest
import setuptools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _options():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    return config


def test_every_subpackage_is_installed_under_keras_dl():
    config = _options()
    listed = config["options"]["packages"].split()
    found = setuptools.find_packages(ROOT, include=["keras_dl", "keras_dl.*"])
    assert sorted(listed) == sorted(found + ["keras_dl.recipes", "keras_dl.deploy"])
    assert config["options"]["package_dir"].split() == ["keras_dl.recipes", "=", "recipes", "keras_dl.deploy", "=",
                                                        "export"]


@pytest.mark.parametrize("group, folder", [("keras_dl.recipes", "recipes"), ("keras_dl.deploy", "export")])
def test_every_recipe_and_tool_is_an_entry_point(group, folder):
    entry_points = dict(line.split(" = ") for line in _options()["options.entry_points"][group].split("\n") if line)
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, folder))
                     if name.endswith(".py") and not name.startswith("_"))
    assert sorted(entry_points) == modules
    assert all(value == f"{group}.{name}" for name, value in entry_points.items())


def test_the_shipped_digit_classifier_is_package_data():
    # CI installs without -e: a file not named in package_data would be missing from site-packages.
    import fnmatch

    patterns = _options()["options.package_data"]["keras_dl.metrics"].split()
    assets = os.listdir(os.path.join(ROOT, "keras_dl", "metrics", "assets"))
    assert "digit_classifier.keras" in assets
    assert all(any(fnmatch.fnmatch(f"assets/{name}", pattern) for pattern in patterns) for name in assets)
