"""A site's wiring as SVG: racks, nodes with roles and flavor families, NICs, bonds, VLANs, bridges, networks, MTUs.

Each node is a card: its NICs at the bottom, bonds over their members, VLAN interfaces and bridges above, and an
uplink from the device that carries each network to that network's line over the rack's row of cards. The MTUs
are the model's link facts (beskar.model.links): every link is labelled with the MTU of the device above it, and
drawn red when that is more than the device below has; a device with less than what it carries is outlined red.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beskar.check.findings import Finding
from beskar.model import Attachment, Network, Node, Purpose, Site
from beskar.model.links import Link, NodeLinks, vlan_device
from beskar.report.marks import Marks
from beskar.report.svg import document, esc, line, num, rect, text, text_width, title

COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
ROLE_FILL = {"control-plane": "#e8f0fb", "compute": "#eaf6ea", "storage": "#fdf1e2", "network": "#f3ecfa"}
SLOT = 116.0
BOX_W = 108.0
BOX_H = 30.0
ROW = 58.0  # a row of devices and the gap above it, where its links and their MTUs are
PAD = 10.0
HEADER = 40.0
BUS_GAP = 11.0
ROW_WIDTH = 1480.0  # cards wrap onto another row beyond this width
LEGEND_ROW = 22.0
MARGIN = 16.0
BAD = "#c62828"


@dataclass
class _Card:
    node: Node
    width: float = 0.0
    height: float = 0.0
    body: list[str] = field(default_factory=list)  # drawn at (0, 0), translated into place
    uplinks: list[tuple[float, str]] = field(default_factory=list)  # (x in card, network) leaving the card's top


def _label(network: Network) -> str:
    vlan = f"VLAN {network.vlan}" if network.vlan else "untagged"
    gateway = f" · gw {network.gateway}" if network.gateway else ""
    return f"{network.name} ({network.purpose.value}) · {vlan} · {network.cidr}{gateway} · MTU {network.mtu}"


def _marker(x: float, y: float, findings: list[Finding]) -> list[str]:
    words = "\n".join(f"{f.severity.value}: {f.rule}: {f.message}" for f in findings)
    return ['<g class="marker">', title(words), rect(x - 9, y - 9, 18, 18, rx=9.0, fill=BAD),
            text(x, y + 4.5, "!", fill="#fff", font_size=13, font_weight="bold", text_anchor="middle"), "</g>"]


def _box(x: float, y: float, kind: str, name: str, detail: str, bad: bool = False, tip: str | None = None) -> list[str]:
    return [f'<g class="device {kind}" data-device="{esc(name)}">', *([title(tip)] if tip else []),
            rect(x - BOX_W / 2, y, BOX_W, BOX_H, rx=4.0, fill="#fff", stroke=BAD if bad else "#555",
                 stroke_width=2.0 if bad else 1.0),
            text(x, y + 12.5, name, font_size=11, font_weight="bold", text_anchor="middle"),
            text(x, y + 25, detail, font_size=_fitting(detail), fill="#444", text_anchor="middle"), "</g>"]


def _fitting(detail: str, size: float = 9.5) -> float:
    """A smaller font for a detail that would run over its box (`active-backup · MTU 9000`), down to 8 px."""
    estimated = text_width(detail, size)
    return size if estimated <= BOX_W - 6 else max(8.0, round(size * (BOX_W - 6) / estimated, 1))


def _link(x1: float, y1: float, x2: float, y2: float, mtu: int | None, fits: bool) -> list[str]:
    colour = "#555" if fits else BAD
    parts = ['<g class="link">', line(x1, y1, x2, y2, stroke=colour, stroke_width=1.5 if fits else 2.5)]
    if mtu is not None:
        parts.append(text((x1 + x2) / 2 + 4, (y1 + y2) / 2 + 3, str(mtu), font_size=9, fill=colour))
    parts.append("</g>")
    return parts


def _onto(x: float, centre: float) -> float:
    """Where a link meets a box centred at `centre`: straight above `x` when it can, else at the box's edge."""
    return min(max(x, centre - BOX_W / 2 + 8), centre + BOX_W / 2 - 8)


def _groups(site: Site, node: Node) -> list[tuple[str, list[str], list[tuple[Attachment, Network]]]]:
    """The node's devices in columns: a bond with its members, or a NIC on its own, with the attachments that ride
    on it, in the order the node declares its interfaces."""
    networks = {n.name: n for n in site.networks}
    groups: list[tuple[str, list[str]]] = []
    for interface in node.interfaces:
        bond = next((b for b in node.bonds if interface.name in b.interfaces), None)
        if bond is None:
            groups.append((interface.name, [interface.name]))
        elif all(g[0] != bond.name for g in groups):
            groups.append((bond.name, list(bond.interfaces)))
    groups += [(bond.name, list(bond.interfaces)) for bond in node.bonds if all(g[0] != bond.name for g in groups)]
    for attachment in node.networks:
        if all(attachment.device != g[0] and attachment.device not in g[1] for g in groups):
            groups.append((attachment.device, [attachment.device]))
    riding: dict[str, list[tuple[Attachment, Network]]] = {g[0]: [] for g in groups}
    for attachment in node.networks:
        network = networks.get(attachment.name)
        if network is not None and network.purpose is not Purpose.OOB:
            owner = next(g[0] for g in groups if attachment.device == g[0] or attachment.device in g[1])
            riding[owner].append((attachment, network))
    return [(name, nics, riding[name]) for name, nics in groups]


def _short(link: Link | None) -> bool:
    """The device has less MTU than what it carries needs."""
    return link is not None and link.mtu < link.needed_mtu


def _about(link: Link | None, name: str) -> str:
    """A device's link facts, for its tooltip."""
    if link is None:
        return f"{name}: not a device of the node"
    how = f"set to {link.declared_mtu}" if link.declared_mtu is not None else "derived from what it carries"
    carries = ", ".join(link.networks) or "nothing"
    return (f"{name} ({link.kind.value}): MTU {link.mtu}, {how}; needs {link.needed_mtu}; carries {carries}"
            + (f"; port of {link.master}" if link.master else ""))


def _card(site: Site, node: Node, links: NodeLinks, marks: Marks) -> _Card:
    card = _Card(node)

    def mtu(name: str, default: int) -> int:
        link = links.get(name)
        return link.mtu if link is not None else default

    bonds = {bond.name: bond for bond in node.bonds}
    groups = _groups(site, node)
    riding = {name: items for name, _, items in groups}
    has_bonds = bool(bonds)
    has_vlans = any(vlan_device(a, n) for items in riding.values() for a, n in items)
    has_bridges = any(a.bridge for items in riding.values() for a, n in items)
    rows = 1 + has_bonds + has_vlans + has_bridges
    top = ROW - BOX_H  # room for the uplinks to leave the card
    nic_y = top + (rows - 1) * ROW
    bond_y = nic_y - ROW
    vlan_y = nic_y - ROW * (1 + has_bonds)
    bridge_y = nic_y - ROW * (1 + has_bonds + has_vlans)
    x = PAD
    body = card.body
    if node.bmc is not None:
        oob = site.network(Purpose.OOB)
        centre = x + SLOT / 2
        body += _box(centre, nic_y, "bmc", f"BMC {node.bmc.power_type.value}", str(node.bmc.address))
        if oob is not None:
            body += _link(centre, nic_y, centre, 0, None, True)
            card.uplinks.append((centre, oob.name))
        x += SLOT
    for name, nics, items in groups:
        slots = max(len(nics), len(items), 1)
        width = slots * SLOT
        nic_x = {nic: x + (i + 0.5) * width / len(nics) for i, nic in enumerate(nics)}
        for nic, nx in nic_x.items():
            link = links.get(nic)
            body += _box(nx, nic_y, "nic", nic, f"MTU {link.mtu}" if link else "not declared", bad=_short(link) or
                         link is None, tip=_about(link, nic))
        centre = x + width / 2
        carrier_y = nic_y
        if name in bonds:
            bond = links.get(name)
            body += _box(centre, bond_y, "bond", name, f"{bonds[name].mode} · MTU {mtu(name, 0)}",
                         bad=_short(bond), tip=_about(bond, name))
            for nic, nx in nic_x.items():
                member = links.get(nic)
                body += _link(nx, nic_y, _onto(nx, centre), bond_y + BOX_H, member.mtu if member else None,
                              member is not None and not _short(member))
            carrier_y = bond_y
        for index, (attachment, network) in enumerate(items):
            sx = x + (index + 0.5) * width / len(items) if items else centre
            device_mtu = mtu(attachment.device, network.mtu)
            here_x, here_y, here_mtu = _onto(sx, centre) if name in bonds else sx, carrier_y, device_mtu
            vlan = vlan_device(attachment, network)
            if vlan is not None:
                vlan_mtu = mtu(vlan, network.mtu)
                body += _box(sx, vlan_y, "vlan", vlan, f"VLAN {network.vlan}, MTU {vlan_mtu}",
                             bad=vlan_mtu > device_mtu, tip=_about(links.get(vlan), vlan))
                body += _link(here_x, here_y, sx, vlan_y + BOX_H, vlan_mtu, vlan_mtu <= device_mtu)
                here_x, here_y, here_mtu = sx, vlan_y, vlan_mtu
            if attachment.bridge:
                bridge_mtu = mtu(attachment.bridge, here_mtu)
                body += _box(sx, bridge_y, "bridge", attachment.bridge, f"bridge · MTU {bridge_mtu}",
                             bad=bridge_mtu > here_mtu, tip=_about(links.get(attachment.bridge), attachment.bridge))
                body += _link(here_x, here_y, sx, bridge_y + BOX_H, bridge_mtu, bridge_mtu <= here_mtu)
                here_x, here_y, here_mtu = sx, bridge_y, bridge_mtu
            # Untagged, the device must have the network's MTU; tagged, the network's frames must fit.
            fits = here_mtu == network.mtu if network.vlan is None or vlan is not None else network.mtu <= here_mtu
            tag = f"OVS VLAN {network.vlan}" if network.vlan and vlan is None else ""
            body += _link(here_x, here_y, sx, 0, None, fits)
            address = str(attachment.address) if attachment.address else tag or network.name
            body.append(text(sx + 4, 11, address, font_size=9, fill="#333"))
            body.append(text(sx + 4, 21, f"MTU {here_mtu}", font_size=9, fill="#555" if fits else BAD))
            card.uplinks.append((sx, network.name))
        x += width
    card.width = max(x + PAD, 240.0)
    card.height = nic_y + BOX_H + HEADER
    roles = ", ".join(r.value for r in node.roles)
    family = f" · family {node.flavor_family}" if node.flavor_family else ""
    gpus = "".join(f" · {count}x {model}" for model, count in sorted(node.gpus.items()))
    found = marks.nodes.get(node.name, [])
    frame = rect(0, 0, card.width, card.height, rx=6.0, fill=ROLE_FILL.get(node.roles[0].value, "#f5f5f5"),
                 stroke=BAD if found else "#888", stroke_width=2.5 if found else 1.0)
    header = [text(PAD, card.height - HEADER + 17, node.name, font_size=13, font_weight="bold"),
              text(PAD, card.height - HEADER + 32, f"{roles}{family}{gpus}", font_size=10.5, fill="#333")]
    card.body = [frame, *body, *header, *(_marker(card.width - 14, card.height - 16, found) if found else [])]
    return card


def wiring_svg(site: Site, links: dict[str, NodeLinks], marks: Marks) -> str:
    """The site's wiring picture, from the site and its nodes' link facts (beskar.model.links.site_links)."""
    colour = {n.name: COLORS[i % len(COLORS)] for i, n in enumerate(site.networks)}
    body: list[str] = []
    y = MARGIN
    # The networks, once each, as a legend; the lines over each rack's cards repeat their colours.
    columns = 2
    column_width = max(text_width(_label(n), 11.5) + 60 for n in site.networks)
    for index, network in enumerate(site.networks):
        nx = MARGIN + (index % columns) * column_width
        ny = y + (index // columns) * LEGEND_ROW
        found = marks.networks.get(network.name, [])
        body.append(f'<g class="network" data-network="{esc(network.name)}">')
        body.append(title(_label(network) + (f"\n{network.description}" if network.description else "")))
        body.append(rect(nx, ny + 4, 26, 8, rx=2.0, fill=colour[network.name]))
        body.append(text(nx + 34, ny + 12, _label(network), font_size=11.5, fill=BAD if found else "#222",
                         font_weight="bold" if found else None))
        if found:
            body += _marker(nx + column_width - 30, ny + 8, found)
        body.append("</g>")
    y += ((len(site.networks) + columns - 1) // columns) * LEGEND_ROW + 14
    width = MARGIN * 2 + columns * column_width
    racks: dict[str, list[Node]] = {}
    for node in site.nodes:
        racks.setdefault(node.rack or "", []).append(node)
    laid: list[tuple[str, list[list[_Card]]]] = []
    for rack in sorted(racks, key=lambda name: (name == "", name)):
        rows: list[list[_Card]] = [[]]
        for card in (_card(site, node, links.get(node.name) or NodeLinks(node.name, ()), marks)
                     for node in racks[rack]):
            if rows[-1] and sum(c.width + PAD for c in rows[-1]) + card.width > ROW_WIDTH:
                rows.append([])
            rows[-1].append(card)
        laid.append((rack, rows))
        width = max([width] + [MARGIN * 2 + 32 + sum(c.width for c in row) + PAD * (len(row) - 1) for row in rows])
    bus_height = len(site.networks) * BUS_GAP + 8
    for rack, rows in laid:
        frame_at = len(body) + 1
        rack_top = y
        body.append(f'<g class="rack" data-rack="{esc(rack or "none")}">')
        body.append(text(MARGIN + 10, y + 18, f"rack {rack}" if rack else "no rack", font_size=13,
                         font_weight="bold", fill="#333"))
        y += 26
        for row in rows:
            row_width = sum(c.width for c in row) + PAD * (len(row) - 1)
            bus_y = {n.name: y + 6 + i * BUS_GAP for i, n in enumerate(site.networks)}
            for network in site.networks:
                body.append(line(MARGIN + 8, bus_y[network.name], MARGIN + 24 + row_width, bus_y[network.name],
                                 stroke=colour[network.name], stroke_width=2.0, class_="bus",
                                 data_network=network.name))
            cards_y = y + bus_height + 18
            x = MARGIN + 16
            for card in row:
                body.append(f'<g class="node" data-node="{esc(card.node.name)}" '
                            f'transform="translate({num(x)},{num(cards_y)})">')
                body.append(title(f"{card.node.name}: {', '.join(r.value for r in card.node.roles)}"))
                body += card.body
                body.append("</g>")
                for ux, network in card.uplinks:
                    body.append(line(x + ux, cards_y, x + ux, bus_y[network], stroke=colour[network],
                                     stroke_width=1.5, class_="uplink"))
                    body.append(rect(x + ux - 2.5, bus_y[network] - 2.5, 5, 5, fill=colour[network]))
                x += card.width + PAD
            y = cards_y + max(c.height for c in row) + 14
        body.insert(frame_at, rect(MARGIN, rack_top, width - 2 * MARGIN, y - rack_top, rx=8.0, fill="none",
                                   stroke="#bbb", stroke_dasharray="6 4", class_="rack-frame"))
        body.append("</g>")
        y += 12
    return document(width, y + MARGIN - 12, body, f"wiring of {site.name}", "wiring")
