"""Shared fixtures: every test that takes `device` runs once per adapter wgpu finds here
(lavapipe for Vulkan and llvmpipe for GL on a machine without a GPU)."""

import pytest

import squeeze

ADAPTERS = squeeze.adapters()


def _id(adapter):
    return f"{adapter['index']}-{adapter['backend']}"


@pytest.fixture(scope="session", params=ADAPTERS, ids=[_id(a) for a in ADAPTERS])
def device(request):
    return squeeze.Device(adapter=request.param["index"])


def pytest_sessionstart(session):
    if not ADAPTERS:
        raise pytest.UsageError(
            "no GPU adapter found: on Debian install mesa-vulkan-drivers libvulkan1 "
            "(lavapipe) and libegl1 libegl-mesa0 libgl1-mesa-dri (llvmpipe)"
        )
