"""NPU energy ESTIMATE from Vela's MAC count and per-memory traffic.

There is no energy meter for the Ethos-U here. The ``energy_mj`` label of the ``ethos-u55-128``
target is an *estimate*, a first-order model::

    E = nn_macs * E_mac
      + sum over memories m of total_bytes(m) * E_byte(m)
      + P_static * inference_time               (off by default: P_static = 0)

with per-operation energies from a published table (Horowitz, ISSCC 2014, 45 nm) and, for
flash, a stated assumption. It ranks models by compute and data movement; it is not a
measurement of any silicon, and every name here says so (:data:`ENERGY_IS_ESTIMATE`).

All constants live in :data:`ENERGY_CONSTANTS`, each with its value, unit and source string, so
the dataset datasheet can print them verbatim.
"""

from __future__ import annotations

__all__ = [
    "ENERGY_IS_ESTIMATE",
    "ENERGY_MODEL_ID",
    "ENERGY_CONSTANTS",
    "MEMORY_BYTE_FIELDS",
    "energy_constants_table",
    "estimate_energy_breakdown_pj",
    "estimate_energy_mj",
]

#: Every energy number produced here is an estimate, never a measurement.
ENERGY_IS_ESTIMATE = True

#: Identifies this energy model (and its constants) in label provenance.
ENERGY_MODEL_ID = "horowitz2014-45nm+flash-assumption/v1"

_HOROWITZ = (
    'M. Horowitz, "Computing\'s Energy Problem (and what we can do about it)", '
    "ISSCC 2014, pp. 10-14, doi:10.1109/ISSCC.2014.6757323, 45 nm, 0.9 V energy table"
)

# Flash: not in Horowitz's table. Stated assumption, from a serial NOR flash operating point.
_FLASH_V, _FLASH_MA, _FLASH_MBPS = 3.0, 20.0, 54.0
_FLASH_PJ_PER_BYTE = _FLASH_V * _FLASH_MA * 1e-3 / (_FLASH_MBPS * 1e6) * 1e12  # ~1111 pJ/B

#: The energy table: name -> {"value", "unit", "source"}. Estimates, see module docstring.
ENERGY_CONSTANTS = {
    "mac_int8_pj": {
        "value": 0.2 + 0.03,
        "unit": "pJ per 8-bit MAC",
        "source": _HOROWITZ + ": 8-bit integer multiply 0.2 pJ + 8-bit integer add 0.03 pJ",
    },
    "sram_pj_per_byte": {
        "value": 5.0 / 4.0,
        "unit": "pJ per byte",
        "source": _HOROWITZ + ": 8 KB SRAM, 32-bit read 5 pJ (= 64-bit 10 pJ) -> 1.25 pJ/byte. "
        "Optimistic for the Ethos-U's system SRAM, which is larger than 8 KB "
        "(the same table gives 100 pJ per 64-bit access for 1 MB, i.e. 12.5 pJ/byte)",
    },
    "dram_pj_per_byte": {
        "value": (1300.0 + 2600.0) / 2.0 / 8.0,
        "unit": "pJ per byte",
        "source": _HOROWITZ + ": DRAM 1.3-2.6 nJ per 64-bit access; midpoint 1.95 nJ / 8 bytes "
        "-> 243.75 pJ/byte",
    },
    "off_chip_flash_pj_per_byte": {
        "value": _FLASH_PJ_PER_BYTE,
        "unit": "pJ per byte",
        "source": "ASSUMPTION (not from Horowitz): quad-SPI NOR flash streaming reads, "
        "{:.1f} V x {:.0f} mA / {:.0f} MB/s = {:.0f} pJ/byte. 54 MB/s is the quad-I/O throughput "
        "in Micron's N25Q256A (3 V) datasheet feature list, 3.0 V a nominal supply in its "
        "2.7-3.6 V range; the {:.0f} mA read current is an assumed typical serial-NOR value, "
        "not taken from a datasheet table".format(
            _FLASH_V, _FLASH_MA, _FLASH_MBPS, _FLASH_PJ_PER_BYTE, _FLASH_MA
        ),
    },
    "on_chip_flash_pj_per_byte": {
        "value": _FLASH_PJ_PER_BYTE,
        "unit": "pJ per byte",
        "source": "ASSUMPTION: same as off-chip flash (an upper bound; embedded flash is cheaper). "
        "Vela's default Ethos-U55 system config and memory mode put nothing in on-chip flash",
    },
    "static_power_mw": {
        "value": 0.0,
        "unit": "mW",
        "source": "static/leakage power term, disabled by default (0 mW); pass static_power_mw "
        "to add P_static x inference_time",
    },
}

#: Vela summary CSV byte-count column per memory, and the constant that prices it.
MEMORY_BYTE_FIELDS = {
    "sram": ("sram_total_bytes", "sram_pj_per_byte"),
    "dram": ("dram_total_bytes", "dram_pj_per_byte"),
    "on_chip_flash": ("on_chip_flash_total_bytes", "on_chip_flash_pj_per_byte"),
    "off_chip_flash": ("off_chip_flash_total_bytes", "off_chip_flash_pj_per_byte"),
}


def energy_constants_table():
    """The energy constants as rows for a datasheet (estimate, with sources).

    Returns:
        A list of ``{"name", "value", "unit", "source"}`` dicts in a fixed order.
    """
    return [
        {"name": name, "value": c["value"], "unit": c["unit"], "source": c["source"]}
        for name, c in ENERGY_CONSTANTS.items()
    ]


def _num(row, key):
    value = row.get(key, 0)
    if value in (None, ""):
        return 0.0
    return float(value)


def estimate_energy_breakdown_pj(summary, constants=None, static_power_mw=None):
    """Estimated energy per component, in picojoules (an ESTIMATE, see module docstring).

    Args:
        summary: one Vela summary CSV row (mapping of column name to str or number); uses
            ``nn_macs``, ``*_total_bytes`` and ``inference_time`` (seconds).
        constants: an alternative to :data:`ENERGY_CONSTANTS` (same keys).
        static_power_mw: overrides ``constants["static_power_mw"]``.

    Returns:
        ``{"mac": pJ, "sram": pJ, "dram": pJ, "on_chip_flash": pJ, "off_chip_flash": pJ,
        "static": pJ}``.

    Raises:
        KeyError: ``nn_macs`` is missing from the row.
    """
    c = ENERGY_CONSTANTS if constants is None else constants
    if "nn_macs" not in summary:
        raise KeyError("nn_macs")
    out = {"mac": _num(summary, "nn_macs") * c["mac_int8_pj"]["value"]}
    for mem, (field, const) in MEMORY_BYTE_FIELDS.items():
        out[mem] = _num(summary, field) * c[const]["value"]
    p_mw = c["static_power_mw"]["value"] if static_power_mw is None else float(static_power_mw)
    # mW x s = mJ = 1e9 pJ
    out["static"] = p_mw * _num(summary, "inference_time") * 1e9
    return out


def estimate_energy_mj(summary, constants=None, static_power_mw=None):
    """Estimated energy of one inference, in millijoules (an ESTIMATE, not a measurement).

    Args:
        summary: one Vela summary CSV row, see :func:`estimate_energy_breakdown_pj`.
        constants: an alternative to :data:`ENERGY_CONSTANTS`.
        static_power_mw: overrides the static power term (default 0 mW).

    Returns:
        Energy in mJ.
    """
    parts = estimate_energy_breakdown_pj(summary, constants, static_power_mw)
    return sum(parts.values()) * 1e-9
