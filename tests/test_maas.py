"""The MAAS planner over MAAS-shaped machine listings, and `beskar maas` against a MAAS API on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import os
import socket

import pytest
import yaml

from beskar.clients.maas import ApiKey, MaasClient
from beskar.catalog import catalog
from beskar.operations.compilation import compile_fleet
from beskar.plan.maas import Action, plan
from beskar.render.maas import machine_plan
from maas_fake import API_KEY, FakeMaas, subnet

OSTRAVA_SUBNETS = [subnet(1, "10.32.0.0/24", 0, 5001, "10.32.0.1"), subnet(2, "10.32.3.0/24", 3203, 5203)]


@pytest.fixture
def wanted(example_fleet):
    return machine_plan(compile_fleet(example_fleet, ["prod-ostrava"]).sites["prod-ostrava"], catalog())


@pytest.fixture
def fake():
    maas = FakeMaas(copy.deepcopy(OSTRAVA_SUBNETS))
    yield maas
    maas.server.server_close()


def ready(fake, wanted, hostname, **kwargs):
    planned = wanted.machine(hostname)
    return fake.add_machine(hostname, [i.mac for i in planned.interfaces if i.mac], **kwargs)


def by_action(result, hostname):
    return {s.action: s for s in result.steps if s.hostname == hostname}


def test_the_planner_is_pure(fake, wanted, monkeypatch):
    ready(fake, wanted, "ova-ctl-1")
    fake.add_machine("legacy-1", ["00:16:3e:00:00:01"], status="Deployed")
    machines, subnets = list(fake.machines.values()), fake.subnets
    before = copy.deepcopy((machines, subnets))

    def no_network(*args, **kwargs):
        raise AssertionError("the planner opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    first = plan(wanted, machines, subnets)
    second = plan(wanted, copy.deepcopy(machines), copy.deepcopy(subnets))
    assert first == second
    assert (machines, subnets) == before, "the planner changed its inputs"


def test_an_empty_maas_enlists_and_tags_every_planned_machine(wanted):
    result = plan(wanted, [], [])
    assert [(s.hostname, s.action) for s in result.steps] == [
        (m.hostname, action) for m in wanted.machines for action in (Action.ENLIST, Action.TAG)]
    enlist = by_action(result, "ova-ctl-2")[Action.ENLIST]
    params = dict(enlist.calls[0].params)
    assert (enlist.calls[0].method, enlist.calls[0].path) == ("POST", "machines/")
    assert params["hostname"] == "ova-ctl-2" and params["power_type"] == "redfish"
    assert params["power_parameters_power_address"] == "10.31.0.12"
    assert params["power_parameters_power_pass"] == "{secret:bmc.ova-ctl-2.password}"  # never the password
    assert sorted(v for k, v in enlist.calls[0].params if k == "mac_addresses") == \
        ["3c:fd:fe:32:12:00", "3c:fd:fe:32:12:01"]


def test_a_ready_machine_is_configured_and_deployed(fake, wanted):
    machine = ready(fake, wanted, "ova-ctl-1", tags=["beskar"])
    result = plan(wanted, list(fake.machines.values()), fake.subnets)
    steps = by_action(result, "ova-ctl-1")
    assert list(steps) == [Action.TAG, Action.CONFIGURE_INTERFACES, Action.CONFIGURE_STORAGE, Action.DEPLOY]
    interfaces = steps[Action.CONFIGURE_INTERFACES]
    renames = [dict(c.params) for c in interfaces.calls if c.method == "PUT"]
    assert renames == [{"name": "eno1"}, {"name": "eno2"}]  # MAAS named them eth0/eth1 when commissioning
    (bond,) = [c for c in interfaces.calls if c.op == "create_bond"]
    assert ("parents", "{interface:eno1}") in bond.params and ("bond_mode", "active-backup") in bond.params
    (link,) = [c for c in interfaces.calls if c.op == "link_subnet"]
    assert dict(link.params) == {"mode": "STATIC", "subnet": "1", "ip_address": "10.32.0.11", "default_gateway": "true"}
    assert link.path == "nodes/{system_id}/interfaces/{interface:bond0}/"
    deploy = steps[Action.DEPLOY]
    assert [c.op for c in deploy.calls] == ["allocate", "deploy"]
    user_data = base64.b64decode(dict(deploy.calls[1].params)["user_data"]).decode()
    assert user_data.startswith("#cloud-config\n")
    facts = yaml.safe_load(user_data)["write_files"][0]
    assert json.loads(facts["content"])["node"] == "ova-ctl-1"
    assert all(machine["system_id"] not in str(c) for s in result.steps for c in s.calls), \
        "steps name machines by placeholder, resolved against a fresh read when they run"


def test_deployed_machines_in_place_and_tags_owned_by_beskar_only(fake, wanted):
    for planned in wanted.machines:
        tags = list(planned.tags)
        if planned.hostname == "ova-cmp-1":
            tags += ["flavor-c3", "gpu"]  # a stale family Beskar set once, and an operator's own tag
        ready(fake, wanted, planned.hostname, status="Deployed", tags=tags)
    result = plan(wanted, list(fake.machines.values()), fake.subnets)
    assert result.in_place == ("ova-ctl-1", "ova-ctl-2", "ova-ctl-3")
    (step,) = result.steps
    assert (step.hostname, step.action, step.summary) == ("ova-cmp-1", Action.TAG, "remove flavor-c3")


def test_machines_not_in_the_plan_are_never_touched(fake, wanted):
    legacy = fake.add_machine("legacy-1", ["00:16:3e:00:00:01"], status="Ready")
    other = fake.add_machine("ova-old-7", ["00:16:3e:00:00:02"], status="Deployed", tags=["site-prod-ostrava"])
    result = plan(wanted, list(fake.machines.values()), fake.subnets)
    assert result.unmanaged == (f"legacy-1 ({legacy['system_id']})", f"ova-old-7 ({other['system_id']})")
    assert {s.hostname for s in result.steps} == {m.hostname for m in wanted.machines}


@pytest.mark.parametrize("hostname, macs, reason", [
    ("ova-ctl-9", ["3c:fd:fe:32:11:00"], "its MAC belongs to MAAS machine ova-ctl-9"),
    ("ova-ctl-1", ["00:16:3e:00:00:09"], "is called ova-ctl-1 but has none of its MACs"),
])
def test_conflicting_machines_are_refused(fake, wanted, hostname, macs, reason):
    conflicting = fake.add_machine(hostname, macs, status="Ready")
    result = plan(wanted, list(fake.machines.values()), fake.subnets)
    (refusal,) = result.refused
    assert refusal.machine == "ova-ctl-1" and reason in refusal.reason
    assert not [s for s in result.steps if s.hostname == "ova-ctl-1"]
    assert conflicting["system_id"] not in " ".join(result.unmanaged)


def test_busy_machines_wait_and_missing_subnets_refuse(fake, wanted):
    ready(fake, wanted, "ova-ctl-1", status="Commissioning")
    ready(fake, wanted, "ova-ctl-2")
    result = plan(wanted, list(fake.machines.values()), [])
    assert [(w.machine, w.reason) for w in result.waiting] == [
        ("ova-ctl-1", "MAAS status Commissioning: plan again when it is done")]
    assert [(r.machine, r.reason) for r in result.refused] == [
        ("ova-ctl-2", "MAAS has no subnet 10.32.0.0/24: create it (on its fabric and VLAN) first")]


def test_the_client_signs_with_oauth_plaintext(fake):
    with fake:
        assert MaasClient(fake.url, ApiKey.parse(API_KEY)).subnets() == fake.subnets
        with pytest.raises(Exception, match="HTTP 401"):
            MaasClient(fake.url, ApiKey.parse("cK3yConsumer:tK3yToken:wrong")).machines()
    assert fake.unauthorised == 1
    with pytest.raises(ValueError, match="consumer:token:secret"):
        ApiKey.parse("only-two:parts")


def test_plan_and_apply_against_a_maas_api(fake, example_fleet, run_beskar, tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "common"},
                                       "stringData": {f"bmc.{n}.password": f"pw-{n}" for n in
                                                      ("ova-ctl-1", "ova-ctl-2", "ova-ctl-3", "ova-cmp-1")}}))
    common = ["-C", example_fleet, "--url", fake.url, "--key", API_KEY]
    with fake:
        legacy = fake.add_machine("legacy-1", ["00:16:3e:00:00:01"], status="Deployed", tags=["keep"])
        untouched = copy.deepcopy(legacy)
        done = run_beskar("maas", "plan", "prod-ostrava", *common, "--format", "json")
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert [s["action"] for s in shown["steps"]] == ["enlist", "tag"] * 4
        assert shown["unmanaged"] == [f"legacy-1 ({legacy['system_id']})"] and fake.requests == []

        done = run_beskar("maas", "apply", "prod-ostrava", *common, "--secrets", secrets)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("completed") == 8
        machines = {m["hostname"]: m for m in fake.machines.values()}
        assert machines["ova-ctl-2"]["power_parameters"] == {"power_address": "10.31.0.12", "power_user": "maas",
                                                             "power_pass": "pw-ova-ctl-2"}
        assert "role-network" in machines["ova-ctl-2"]["tag_names"]

        done = run_beskar("maas", "plan", "prod-ostrava", *common)
        assert done.returncode == 0 and done.stdout.count("MAAS status Commissioning") == 4

        fake.finish("Ready")
        done = run_beskar("maas", "apply", "prod-ostrava", *common, "--format", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        results = json.loads(done.stdout)["results"]
        assert {r["result"] for r in results} == {"completed"}
        assert [r["action"] for r in results if r["machine"] == "ova-cmp-1"] == [
            "configure-interfaces", "configure-storage", "deploy"]
        cmp1 = {m["hostname"]: m for m in fake.machines.values()}["ova-cmp-1"]
        assert cmp1["status_name"] == "Deploying" and cmp1["distro_series"] == "jammy"
        bond = next(i for i in cmp1["interface_set"] if i["name"] == "bond0")
        assert bond["parents"] == ["eno1", "eno2"] and bond["links"][0]["ip_address"] == "10.32.0.31"
        assert '"node": "ova-cmp-1"' in cmp1["user_data"]

        fake.finish("Deployed")
        done = run_beskar("maas", "plan", "prod-ostrava", *common, "--format", "json")
        assert json.loads(done.stdout)["in_place"] == ["ova-ctl-1", "ova-ctl-2", "ova-ctl-3", "ova-cmp-1"]
        assert json.loads(done.stdout)["steps"] == []
    assert fake.machines[legacy["system_id"]] == untouched
    assert not any(legacy["system_id"] in json.dumps(r) for r in fake.requests)


def test_apply_without_the_bmc_password_fails_that_step_clearly(fake, example_fleet, run_beskar):
    with fake:
        done = run_beskar("maas", "apply", "prod-ostrava", "-C", example_fleet, "--url", fake.url, "--key", API_KEY)
    assert done.returncode == 1
    assert "secret bmc.ova-ctl-1.password was not supplied" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not [r for r in fake.requests if r[1] == "machines"]


def test_unusable_maas_settings_exit_2_and_unreachable_maas_exits_1(example_fleet, run_beskar):
    done = run_beskar("maas", "plan", "prod-brno", "-C", example_fleet, "--key", "x:y")
    assert done.returncode == 2 and "no MAAS URL" in done.stderr and "consumer:token:secret" in done.stderr
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_beskar("maas", "plan", "prod-brno", "-C", example_fleet, "--url", f"http://127.0.0.1:{port}/MAAS",
                      "--key", API_KEY)
    assert done.returncode == 1 and "cannot reach MAAS" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not (os.environ.get("BESKAR_MAAS_URL") and os.environ.get("BESKAR_MAAS_KEY")),
                    reason="live MAAS test: set BESKAR_MAAS_URL and BESKAR_MAAS_KEY to run it (read-only)")
def test_live_maas_plan(example_fleet, run_beskar):
    done = run_beskar("maas", "plan", "prod-brno", "-C", example_fleet, "--format", "json", timeout=120)
    assert done.returncode in (0, 1), done.stderr
    shown = json.loads(done.stdout)
    assert set(shown) == {"steps", "in_place", "waiting", "refused", "unmanaged"}
