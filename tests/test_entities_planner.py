"""The entity planner: ownership, prune, adoption, interrupted creates, order, and convergence (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from beskar.plan.entities import Action, Options, Step, plan
from beskar.plan.resources import RULES, Kind, Resource, State


def R(kind: Kind, *key: str, managed: bool = True, unfinished: bool = False, **fields) -> Resource:
    return Resource(kind, key, fields, managed, unfinished)


def S(*resources: Resource, hosts=None) -> State:
    return State.of(resources, hosts)


def steps(desired: State, observed: State, **options) -> list[tuple[Action, Kind, tuple, bool]]:
    return [(s.action, s.kind, s.key, s.runs) for s in plan(desired, observed, Options(**options)).steps]


FLAVOR = dict(vcpus=2, ram=4096, disk=0, ephemeral=0, swap=0, public=True, description="", extra_specs={"a": "1"})


def test_nothing_to_do_when_the_cloud_matches() -> None:
    state = S(R(Kind.FLAVOR, "c2.2core-4ram", **FLAVOR))
    result = plan(state, state)
    assert result.steps == () and result.unmanaged == ()


def test_an_update_names_each_changed_field_and_keeps_the_resource() -> None:
    desired = S(R(Kind.FLAVOR, "f", **{**FLAVOR, "description": "new", "extra_specs": {"a": "2", "b": "x"}}))
    observed = S(R(Kind.FLAVOR, "f", **FLAVOR))
    [step] = plan(desired, observed).steps
    assert (step.action, step.runs) == (Action.UPDATE, True)
    assert [(c.field, c.old, c.new) for c in step.changes] == [
        ("description", "", "new"), ("extra_specs.a", "1", "2"), ("extra_specs.b", None, "x")]


def test_an_immutable_change_replaces_only_with_prune() -> None:
    desired = S(R(Kind.FLAVOR, "f", **{**FLAVOR, "vcpus": 4}))
    observed = S(R(Kind.FLAVOR, "f", **FLAVOR))
    [held] = plan(desired, observed).steps
    assert (held.action, held.runs, held.pending) == (Action.REPLACE, False, True)
    assert "--prune" in held.skip and "vcpus" in held.skip
    assert steps(desired, observed, prune=True) == [(Action.REPLACE, Kind.FLAVOR, ("f",), True)]


def test_unmanaged_undeclared_resources_are_reported_never_touched() -> None:
    hand = R(Kind.PROJECT, "Default", "hand-made", managed=False, description="", enabled=True, parent=None,
             tags=(), contacts=(), properties={})
    result = plan(S(), S(hand), Options(prune=True, adopt=True))
    assert result.steps == () and result.unmanaged == (hand,)


def test_a_declared_resource_someone_else_made_is_adopted_only_when_asked() -> None:
    desired = S(R(Kind.FLAVOR, "f", **FLAVOR))
    observed = S(R(Kind.FLAVOR, "f", managed=False, **{**FLAVOR, "description": "mine"}))
    [held] = plan(desired, observed).steps
    assert (held.action, held.runs, held.pending) == (Action.ADOPT, False, True) and "--adopt" in held.skip
    [adopt] = plan(desired, observed, Options(adopt=True)).steps
    assert adopt.runs and [c.field for c in adopt.changes] == ["description"]
    # Adopting never replaces: a different size is left for a person to sort out.
    other = S(R(Kind.FLAVOR, "f", managed=False, **{**FLAVOR, "vcpus": 8}))
    [refused] = plan(desired, other, Options(adopt=True, prune=True)).steps
    assert not refused.runs and "replace" in refused.skip


def test_what_belongs_to_an_unmanaged_parent_waits_for_its_adoption() -> None:
    project = dict(description="", enabled=True, parent=None, tags=(), contacts=(), properties={})
    desired = S(R(Kind.PROJECT, "Default", "p", **project), R(Kind.QUOTA, "Default", "p", instances=5))
    observed = S(R(Kind.PROJECT, "Default", "p", managed=False, **project), R(Kind.QUOTA, "Default", "p", instances=1))
    assert steps(desired, observed) == [(Action.ADOPT, Kind.PROJECT, ("Default", "p"), False),
                                        (Action.UPDATE, Kind.QUOTA, ("Default", "p"), False)]
    assert [runs for *_, runs in steps(desired, observed, adopt=True)] == [True, True]


def test_an_interrupted_two_call_create_is_resumed() -> None:
    desired = S(R(Kind.AGGREGATE, "c2", availability_zone=None, metadata={"flavor": "c2"}))
    shell = S(R(Kind.AGGREGATE, "c2", managed=False, unfinished=True, availability_zone=None, metadata={}))
    [step] = plan(desired, shell).steps
    assert (step.action, step.runs) == (Action.RESUME, True)
    # A shell that differs in what the first call sets is somebody else's aggregate.
    other = S(R(Kind.AGGREGATE, "c2", managed=False, unfinished=True, availability_zone="az9", metadata={}))
    assert steps(desired, other) == [(Action.ADOPT, Kind.AGGREGATE, ("c2",), False)]


def test_managed_but_undeclared_is_deleted_only_with_prune() -> None:
    observed = S(R(Kind.FLAVOR, "old", **FLAVOR))
    [held] = plan(S(), observed).steps
    assert (held.action, held.runs, held.pending) == (Action.DELETE, False, True)
    assert steps(S(), observed, prune=True) == [(Action.DELETE, Kind.FLAVOR, ("old",), True)]


def test_memberships_of_managed_resources_are_reconciled_without_prune() -> None:
    flavor = R(Kind.FLAVOR, "f", **{**FLAVOR, "public": False})
    desired = S(flavor, R(Kind.FLAVOR_ACCESS, "f", "Default", "a"))
    observed = S(flavor, R(Kind.FLAVOR_ACCESS, "f", "Default", "b"))
    assert steps(desired, observed) == [(Action.DELETE, Kind.FLAVOR_ACCESS, ("f", "Default", "b"), True),
                                        (Action.CREATE, Kind.FLAVOR_ACCESS, ("f", "Default", "a"), True)]
    # ... but those of resources Beskar does not declare are nobody's business here.
    assert steps(S(), S(R(Kind.FLAVOR, "g", managed=False, **FLAVOR), R(Kind.FLAVOR_ACCESS, "g", "D", "b"))) == []


def test_role_assignments_are_managed_only_where_the_project_lists_them() -> None:
    project = dict(description="", enabled=True, parent=None, tags=(), contacts=(), properties={})
    theirs = R(Kind.ROLE, "Default", "p", "user", "Default", "alice", "member")
    observed = S(R(Kind.PROJECT, "Default", "p", **project), theirs)
    assert steps(S(R(Kind.PROJECT, "Default", "p", **project)), observed, prune=True) == []
    listing = S(Resource(Kind.PROJECT, ("Default", "p"), project, manages=frozenset({Kind.ROLE})))
    assert steps(listing, observed) == [(Action.DELETE, Kind.ROLE, theirs.key, True)]


def test_quotas_compare_only_the_declared_limits() -> None:
    desired = S(R(Kind.QUOTA, "Default", "p", instances=10))
    observed = S(R(Kind.QUOTA, "Default", "p", instances=10, cores=20, volumes=3))
    assert plan(desired, observed).steps == ()
    assert plan(S(), observed, Options(prune=True)).steps == ()  # quotas are never deleted


def test_hosts_nova_does_not_know_are_deferred_not_pending() -> None:
    aggregate = R(Kind.AGGREGATE, "c2", availability_zone=None, metadata={"flavor": "c2"})
    desired = S(aggregate, R(Kind.AGGREGATE_HOST, "c2", "known"), R(Kind.AGGREGATE_HOST, "c2", "later"))
    result = plan(desired, S(aggregate, hosts={"known"}))
    by_host = {s.key[1]: s for s in result.steps}
    assert by_host["known"].runs and by_host["known"].pending
    assert not by_host["later"].runs and not by_host["later"].pending and "nova-compute" in by_host["later"].skip
    assert len(result.pending) == 1


def test_a_domain_holding_foreign_projects_is_not_deleted() -> None:
    observed = S(R(Kind.DOMAIN, "d", description="", enabled=True),
                 R(Kind.PROJECT, "d", "theirs", managed=False, parent=None))
    [step] = [s for s in plan(S(), observed, Options(prune=True)).steps]
    assert step.action is Action.DELETE and not step.runs and "theirs" in step.skip


def test_a_project_cannot_move_to_another_parent() -> None:
    project = dict(description="", enabled=True, tags=(), contacts=(), properties={})
    desired = S(R(Kind.PROJECT, "Default", "p", parent="new", **project))
    observed = S(R(Kind.PROJECT, "Default", "p", parent="old", **project))
    [step] = plan(desired, observed, Options(prune=True, adopt=True)).steps
    assert step.action is Action.REPLACE and not step.runs and "by hand" in step.skip


def test_fields_the_cloud_decides_are_not_compared_unless_declared() -> None:
    network = dict(external=False, shared=True, network_type=None, physical_network=None, segmentation_id=None,
                   description="")
    desired = S(R(Kind.NETWORK, "n", mtu=None, **network))
    observed = S(R(Kind.NETWORK, "n", **{**network, "mtu": 1450, "network_type": "vxlan", "segmentation_id": 7}))
    assert plan(desired, observed).steps == ()
    assert [c.field for c in plan(S(R(Kind.NETWORK, "n", mtu=9000, **network)), observed).steps[0].changes] == ["mtu"]


def test_order_parents_first_and_deletions_children_first() -> None:
    project = dict(description="", enabled=True, tags=(), contacts=(), properties={})
    desired = S(R(Kind.PROJECT, "D", "child", parent="mid", **project), R(Kind.PROJECT, "D", "mid", parent="top", **project),
                R(Kind.PROJECT, "D", "top", parent=None, **project), R(Kind.DOMAIN, "D", description="", enabled=True),
                R(Kind.QUOTA, "D", "child", instances=1))
    assert [s.key for s in plan(desired, S()).steps] == [("D",), ("D", "top"), ("D", "mid"), ("D", "child"),
                                                         ("D", "child")]
    removals = plan(S(), desired, Options(prune=True)).steps
    assert [s.key for s in removals] == [("D", "child"), ("D", "mid"), ("D", "top"), ("D",)]


# Convergence and safety over random clouds --------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d"])
SPECS = st.dictionaries(st.sampled_from(["k1", "k2"]), st.sampled_from(["x", "y"]), max_size=2)


@st.composite
def desired_states(draw) -> State:
    resources: dict = {}
    for name in draw(st.sets(NAMES, max_size=3)):
        resources[(Kind.FLAVOR, (name,))] = R(Kind.FLAVOR, name, vcpus=draw(st.integers(1, 2)),
                                              description=draw(st.sampled_from(["", "d"])), extra_specs=draw(SPECS))
        for project in draw(st.sets(NAMES, max_size=2)):
            resources[(Kind.FLAVOR_ACCESS, (name, "D", project))] = R(Kind.FLAVOR_ACCESS, name, "D", project)
    for name in draw(st.sets(NAMES, max_size=2)):
        resources[(Kind.AGGREGATE, (name,))] = R(Kind.AGGREGATE, name, availability_zone=None,
                                                 metadata=draw(SPECS))
        for host in draw(st.sets(NAMES, max_size=2)):
            resources[(Kind.AGGREGATE_HOST, (name, host))] = R(Kind.AGGREGATE_HOST, name, host)
    for name in draw(st.sets(NAMES, max_size=2)):
        resources[(Kind.QUOTA, ("D", name))] = R(Kind.QUOTA, "D", name, instances=draw(st.integers(1, 3)))
    return State.of(resources.values())


@st.composite
def clouds(draw, desired: State) -> State:
    """An observed cloud around `desired`: some of it missing, changed, foreign or half-made, plus extras."""
    resources: dict = {}
    for resource in desired.resources.values():
        fate = draw(st.sampled_from(["same", "missing", "changed", "foreign", "unfinished"]))
        if fate == "missing":
            continue
        fields = dict(resource.fields)
        if fate == "changed" and fields:
            name = draw(st.sampled_from(sorted(fields)))
            value = fields[name]
            fields[name] = {"k3": "z"} if isinstance(value, dict) else (value + 1 if isinstance(value, int) else "zz")
        relation = RULES[resource.kind].relation
        managed = relation or fate not in ("foreign", "unfinished")
        unfinished = fate == "unfinished" and resource.kind is Kind.AGGREGATE
        if unfinished:
            fields["metadata"] = {}
        resources[resource.ref] = Resource(resource.kind, resource.key, fields, managed, unfinished)
    for name in draw(st.sets(st.sampled_from(["x", "y"]), max_size=2)):
        managed = draw(st.booleans())
        resources[(Kind.FLAVOR, (name,))] = R(Kind.FLAVOR, name, managed=managed, vcpus=1, description="",
                                              extra_specs={})
        resources[(Kind.FLAVOR_ACCESS, (name, "D", "a"))] = R(Kind.FLAVOR_ACCESS, name, "D", "a")
    hosts = draw(st.sets(NAMES))
    return State.of(resources.values(), hosts)


def simulate(observed: State, step: Step) -> State:
    """What a step does to the cloud (as the live steps do it), for checking what plans converge to."""
    resources = dict(observed.resources)
    ref = (step.kind, step.key)
    if step.action is Action.DELETE:
        resources.pop(ref)
        for other in [r for r in resources.values() if r.parent_ref == ref]:
            resources.pop(other.ref)  # memberships go with their resource
    else:
        fields = dict(step.desired.fields)
        if RULES[step.kind].partial and ref in resources:
            fields = {**resources[ref].fields, **fields}
        resources[ref] = Resource(step.kind, step.key, fields, True, False)
    return State(resources, observed.compute_hosts)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_plans_converge_and_never_touch_what_is_not_beskars(data) -> None:
    desired = data.draw(desired_states())
    observed = data.draw(clouds(desired))
    options = Options(prune=data.draw(st.booleans()), adopt=data.draw(st.booleans()))
    result = plan(desired, observed, options)
    assert result == plan(desired, observed, options)  # pure and deterministic

    foreign = {r.ref for r in observed.resources.values() if not r.managed and desired.get(*r.ref) is None}
    assert {r.ref for r in result.unmanaged} == foreign
    after = observed
    done: list[Step] = []
    for step in result.runnable:
        ref = (step.kind, step.key)
        assert ref not in foreign and (step.observed is None or step.observed.ref not in foreign)
        if step.action in (Action.DELETE, Action.REPLACE) and not RULES[step.kind].relation:
            assert options.prune
        if step.action is Action.ADOPT:
            assert options.adopt
        parent = step.desired.parent_ref if step.desired else None
        if parent is not None and step.action is Action.CREATE:
            assert all((s.kind, s.key) != parent for s in result.runnable[len(done):]), "parent after its child"
        after = simulate(after, step)
        done.append(step)
    for ref in foreign:
        assert after.resources[ref] == observed.resources[ref]

    again = plan(desired, after, options)
    assert again.runnable == ()  # one apply is enough: a second plan has nothing left to run
    if options.prune and options.adopt:
        assert all(not s.pending for s in again.steps)  # and nothing held back either
