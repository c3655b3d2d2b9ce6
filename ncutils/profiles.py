"""The one table of profile settings: per chapter, the knobs of each profile.

Profiles
--------
``smoke``  CI: every chapter in seconds; some empirical claims are declared as
           not expected to hold here (each says why).
``cpu``    default: the whole book well under an hour on 2 cores, every effect shown.
``paper``  the papers' own settings, meant for a GPU machine with datasets in ``data/``.

Each chapter's ``parameters`` cell names the same knobs (default ``None`` = take
the profile's value); papermill may inject any of them to override the profile.
A knob's type is the type of its value here; an override of another type is an error.
"""

from __future__ import annotations

PROFILE_NAMES: tuple[str, ...] = ("smoke", "cpu", "paper")
DEFAULT_PROFILE = "cpu"

PROFILES: dict[str, dict[str, dict[str, object]]] = {
    # ---------------------------------------------------------------- paper A
    "a01_table1": {
        "smoke": {"n_classes": 10, "m_values": [12, 60]},
        "cpu": {"n_classes": 10, "m_values": [12, 500]},
        "paper": {"n_classes": 10, "m_values": [12, 500]},
    },
    "a02_three_rates": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a02_three_rates): knobs
    "a03_invariant": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a03_invariant): knobs
    "a04_nc_from_e0": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a04_nc_from_e0): knobs
    "a05_ntk_decomposition": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a05_ntk_decomposition): knobs
    "a06_ntk_block_structure": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a06_ntk_block_structure): knobs
    "a07_nc_vs_invariant": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(a07_nc_vs_invariant): knobs
    # ---------------------------------------------------------------- paper B
    "b01_kernel_nc1": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b01_kernel_nc1): knobs
    "b02_closed_form_kernels": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b02_closed_form_kernels): knobs
    "b03_ntk_vs_nngp": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b03_ntk_vs_nngp): knobs
    "b04_erf_vs_relu": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b04_erf_vs_relu): knobs
    "b05_limiting_kernels": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b05_limiting_kernels): knobs
    "b06_trained_fcn": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b06_trained_fcn): knobs
    "b07_adaptive_kernel": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b07_adaptive_kernel): knobs
    "b08_imbalanced": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(b08_imbalanced): knobs
    # ---------------------------------------------------------------- appendix
    "z01_performance": {"smoke": {}, "cpu": {}, "paper": {}},  # TODO(z01_performance): knobs
}


def chapter_profile(chapter: str, profile: str) -> dict[str, object]:
    """Return a copy of the knobs of ``chapter`` at ``profile``.

    Raises ``ValueError`` naming the known chapters/profiles when either is unknown.
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {profile!r}: use one of {', '.join(PROFILE_NAMES)}"
        )
    if chapter not in PROFILES:
        raise ValueError(
            f"no profile table for chapter {chapter!r}: add a section to "
            f"ncutils/profiles.py (known: {', '.join(sorted(PROFILES))})"
        )
    return dict(PROFILES[chapter][profile])
