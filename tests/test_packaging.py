"""setup.cfg installs keras_dl and nothing else: every subpackage listed, recipes/ under keras_dl."""

import configparser
import os

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
    assert sorted(listed) == sorted(found + ["keras_dl.recipes"])
    assert config["options"]["package_dir"].split() == ["keras_dl.recipes", "=", "recipes"]


def test_every_recipe_is_a_keras_dl_recipes_entry_point():
    entry_points = dict(line.split(" = ") for line in _options()["options.entry_points"]["keras_dl.recipes"].split("\n")
                        if line)
    recipes = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "recipes"))
                     if name.endswith(".py") and not name.startswith("_"))
    assert sorted(entry_points) == recipes
    assert all(value == f"keras_dl.recipes.{name}" for name, value in entry_points.items())


def test_the_shipped_digit_classifier_is_package_data():
    # CI installs without -e: a file not named in package_data would be missing from site-packages.
    import fnmatch

    patterns = _options()["options.package_data"]["keras_dl.metrics"].split()
    assets = os.listdir(os.path.join(ROOT, "keras_dl", "metrics", "assets"))
    assert "digit_classifier.keras" in assets
    assert all(any(fnmatch.fnmatch(f"assets/{name}", pattern) for pattern in patterns) for name in assets)
