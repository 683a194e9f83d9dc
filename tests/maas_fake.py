"""A small MAAS API 2.0 server on 127.0.0.1 for tests: documented response shapes, in-memory state."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

CONSUMER, TOKEN, SECRET = "cK3yConsumer", "tK3yToken", "sEcr3tSecret"
API_KEY = f"{CONSUMER}:{TOKEN}:{SECRET}"
_AUTH = re.compile(r'^OAuth (?=.*oauth_signature_method="PLAINTEXT")(?=.*oauth_consumer_key="([^"]*)")'
                   r'(?=.*oauth_token="([^"]*)")(?=.*oauth_signature="([^"]*)")(?=.*oauth_nonce="[^"]+")'
                   r'(?=.*oauth_timestamp="\d+").*$')


def vlan(vid: int, ident: int) -> dict:
    return {"vid": vid, "mtu": 1500, "dhcp_on": vid == 0, "external_dhcp": None, "relay_vlan": None,
            "fabric": "fabric-0", "fabric_id": 0, "primary_rack": "4y3h7n", "name": "untagged" if vid == 0 else
            str(vid), "space": "undefined", "id": ident, "resource_uri": f"/MAAS/api/2.0/vlans/{ident}/"}


def subnet(ident: int, cidr: str, vid: int, vlan_id: int, gateway: str | None = None) -> dict:
    return {"name": cidr, "description": "", "vlan": vlan(vid, vlan_id), "cidr": cidr, "rdns_mode": 2,
            "gateway_ip": gateway, "dns_servers": [], "allow_dns": True, "allow_proxy": True,
            "active_discovery": False, "managed": True, "space": "undefined", "id": ident,
            "resource_uri": f"/MAAS/api/2.0/subnets/{ident}/"}


class FakeMaas:
    """State plus the HTTP server; `requests` records (method, path, op, params) of every write."""

    def __init__(self, subnets: list[dict] | None = None):
        self.machines: dict[str, dict] = {}
        self.subnets = subnets or []
        self.tags: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None, list[tuple[str, str]]]] = []
        self.unauthorised = 0
        self._ids = iter(range(100, 10_000))
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self, method: str) -> None:
                match = _AUTH.match(self.headers.get("Authorization", ""))
                if not match or match.groups() != (CONSUMER, TOKEN, "%26" + SECRET):
                    fake.unauthorised += 1
                    return self._send(401, "Authorization Error: 'Invalid access token'")
                url = urlparse(self.path)
                query = parse_qsl(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                params = parse_qsl(self.rfile.read(length).decode()) if length else []
                op = dict(query).get("op")
                with fake._lock:
                    status, body = fake.handle(method, url.path, op, [q for q in query if q[0] != "op"], params)
                self._send(status, body)

            def _send(self, status: int, body) -> None:
                data = (json.dumps(body) if not isinstance(body, str) else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def do_PUT(self):
                self._answer("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/MAAS"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeMaas:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- state helpers for tests
    def add_machine(self, hostname: str, macs: list[str], status: str = "Ready", tags=(), names=None) -> dict:
        system_id = f"m{next(self._ids)}"
        machine = {
            "system_id": system_id, "hostname": hostname, "fqdn": f"{hostname}.maas", "status_name": status,
            "status_message": status, "architecture": "amd64/generic", "power_type": "ipmi", "power_state": "off",
            "tag_names": list(tags), "zone": {"name": "default", "id": 1}, "pool": {"name": "default", "id": 0},
            "domain": {"name": "maas", "id": 0}, "osystem": "", "distro_series": "", "volume_groups": [],
            "interface_set": [], "blockdevice_set": [], "boot_interface": None, "boot_disk": None,
            "resource_uri": f"/MAAS/api/2.0/machines/{system_id}/",
        }
        for index, mac in enumerate(macs):
            self._interface(machine, (names or [f"eth{i}" for i in range(len(macs))])[index], "physical", mac=mac)
        machine["boot_interface"] = machine["interface_set"][0] if macs else None
        disk = {"id": next(self._ids), "name": "sda", "type": "physical", "size": 960197124096, "path":
                "/dev/disk/by-dname/sda", "id_path": "/dev/disk/by-id/wwn-0x5000c5006689ae3f", "partitions": [],
                "system_id": system_id, "resource_uri": f"/MAAS/api/2.0/nodes/{system_id}/blockdevices/1/"}
        machine["blockdevice_set"] = [disk]
        machine["boot_disk"] = disk
        self.machines[system_id] = machine
        return machine

    def _interface(self, machine: dict, name: str, kind: str, mac=None, parents=(), params="", vid=0) -> dict:
        ident = next(self._ids)
        interface = {"id": ident, "name": name, "type": kind, "mac_address": mac, "parents": list(parents),
                     "children": [], "enabled": True, "effective_mtu": 1500, "params": params,
                     "vlan": vlan(vid, 5001 if vid == 0 else 5000 + vid), "links": [], "tags": [],
                     "discovered": [], "link_connected": True, "system_id": machine["system_id"],
                     "resource_uri": f"/MAAS/api/2.0/nodes/{machine['system_id']}/interfaces/{ident}/"}
        machine["interface_set"].append(interface)
        return interface

    def finish(self, status: str) -> None:
        for machine in self.machines.values():
            if machine["status_name"] in ("Commissioning", "Deploying"):
                machine["status_name"] = status

    # -- the API
    def handle(self, method, path, op, query, params):
        route = path.removeprefix("/MAAS/api/2.0/").strip("/").split("/")
        form = dict(params)
        if method != "GET":
            self.requests.append((method, "/".join(route), op, params))
        if route == ["machines"] and method == "GET":
            hostnames = [v for k, v in query if k == "hostname"]
            return 200, [m for m in self.machines.values() if not hostnames or m["hostname"] in hostnames]
        if route == ["subnets"]:
            return 200, self.subnets
        if route == ["tags"] and method == "GET":
            return 200, list(self.tags.values())
        if route == ["tags"] and method == "POST":
            if form["name"] in self.tags:
                return 400, {"name": ["Tag with this Name already exists."]}
            self.tags[form["name"]] = {"name": form["name"], "comment": form.get("comment", ""), "definition": ""}
            return 200, self.tags[form["name"]]
        if route[0] == "tags" and op == "update_nodes":
            for key, value in params:
                tags = self.machines[value]["tag_names"]
                if key == "add" and route[1] not in tags:
                    tags.append(route[1])
                elif key == "remove" and route[1] in tags:
                    tags.remove(route[1])
            return 200, {"added": 1, "removed": 0}
        if route == ["machines"] and method == "POST" and op is None:
            macs = [v for k, v in params if k == "mac_addresses"]
            machine = self.add_machine(form["hostname"], macs, status="Commissioning")
            machine["power_type"] = form.get("power_type")
            machine["power_parameters"] = {k.removeprefix("power_parameters_"): v for k, v in params
                                           if k.startswith("power_parameters_")}
            return 200, machine
        if route == ["machines"] and op == "allocate":
            machine = self.machines[form["system_id"]]
            machine["status_name"] = "Allocated"
            return 200, machine
        if route[0] == "machines" and len(route) == 2:
            machine = self.machines[route[1]]
            if op == "deploy":
                if machine["status_name"] != "Allocated":
                    return 409, f"Cannot deploy a machine in state {machine['status_name']}"
                machine.update(status_name="Deploying", distro_series=form["distro_series"],
                               user_data=base64.b64decode(form["user_data"]).decode())
            elif op == "set_storage_layout":
                machine["volume_groups"] = [{"name": "vgroot"}] if form["storage_layout"] == "lvm" else []
                machine["storage_layout"] = dict(params)
            return 200, machine
        if route[0] == "nodes" and route[2] == "interfaces":
            machine = self.machines[route[1]]
            by_id = {str(i["id"]): i for i in machine["interface_set"]}
            if op == "create_bond":
                parents = [by_id[v]["name"] for k, v in params if k == "parents"]
                bond = self._interface(machine, form["name"], "bond", mac=by_id[[v for k, v in params
                                                                                  if k == "parents"][0]]["mac_address"],
                                       parents=parents, params={"bond_mode": form["bond_mode"],
                                                                "mtu": int(form.get("mtu", 1500))})
                return 200, bond
            if op == "create_vlan":
                parent = by_id[form["parent"]]
                vid = next(s["vlan"]["vid"] for s in self.subnets if str(s["vlan"]["id"]) == form["vlan"])
                return 200, self._interface(machine, f"{parent['name']}.{vid}", "vlan", parents=[parent["name"]],
                                            vid=vid)
            interface = by_id[route[3]]
            if method == "PUT":
                interface.update({k: int(v) if k == "mtu" else v for k, v in params})
            elif op == "link_subnet":
                cidr = next(s for s in self.subnets if str(s["id"]) == form["subnet"])
                interface["links"] = [{"id": next(self._ids), "mode": form["mode"].lower(),
                                       "ip_address": form["ip_address"], "subnet": cidr}]
            elif op == "unlink_subnet":
                interface["links"] = [link for link in interface["links"] if str(link["id"]) != form["id"]]
            return 200, interface
        return 404, f"no route {method} {path} op={op}"
