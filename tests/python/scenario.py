"""Another team's view of the suite: a Python client generated from proto/
with grpcio-tools, calling the gateway. Run by .ci/run against `crm up`:

    python tests/python/scenario.py ADDRESS   (with TOKEN in the environment)

It generates the stubs into a temporary directory, so nothing generated is
kept in the repository.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate(out: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--python_out={out}", f"--grpc_python_out={out}", *protos],
        check=True,
    )


def main() -> None:
    address = sys.argv[1]
    token = os.environ["TOKEN"]
    out = pathlib.Path(tempfile.mkdtemp())
    generate(out)
    sys.path.insert(0, str(out))
    import grpc
    from crm.analytics.v1 import analytics_pb2 as apb, analytics_pb2_grpc as apbg
    from crm.common.v1 import common_pb2 as common
    from crm.pipeline.v1 import pipeline_pb2 as pb, pipeline_pb2_grpc as pbg
    from google.protobuf import timestamp_pb2

    md = [("authorization", f"Bearer {token}")]
    channel = grpc.insecure_channel(address)
    pipeline = pbg.PipelineServiceStub(channel)
    analytics = apbg.AnalyticsServiceStub(channel)

    stages = [
        pb.Stage(name="Lead", kind=common.STAGE_KIND_OPEN, probability=10),
        pb.Stage(name="Proposal", kind=common.STAGE_KIND_OPEN, probability=60),
        pb.Stage(name="Won", kind=common.STAGE_KIND_WON),
        pb.Stage(name="Lost", kind=common.STAGE_KIND_LOST),
    ]
    p = pipeline.CreatePipeline(
        pb.CreatePipelineRequest(pipeline=pb.Pipeline(name="Python sales", stages=stages)), metadata=md
    ).pipeline
    proposal = p.stages[1].id
    deal = pipeline.CreateDeal(
        pb.CreateDealRequest(deal=pb.Deal(
            pipeline_id=p.id, title="From Python",
            amount=common.Money(currency_code="EUR", units=5000))),
        metadata=md,
    ).deal
    moved = pipeline.MoveDeal(
        pb.MoveDealRequest(deal_id=deal.id, stage_id=proposal, etag=deal.etag), metadata=md
    )
    assert moved.deal.stage_id == proposal, moved
    history = pipeline.ListDealHistory(pb.ListDealHistoryRequest(deal_id=deal.id), metadata=md)
    assert [t.to_stage_id for t in history.transitions][-1] == proposal, history

    # Analytics follows the events: ask until the move shows.
    now = int(time.time())
    # `from` is a Python keyword: the field is set by name.
    period = apb.Period(**{"from": timestamp_pb2.Timestamp(seconds=now - 86400),
                           "to": timestamp_pb2.Timestamp(seconds=now + 86400)})
    in_proposal, funnel = 0, None
    for _ in range(100):
        try:
            funnel = analytics.GetFunnel(apb.GetFunnelRequest(pipeline_id=p.id, period=period), metadata=md)
            in_proposal = next(s.current_count for s in funnel.stages if s.stage_id == proposal)
        except grpc.RpcError as e:
            # Not projected yet.
            assert e.code() == grpc.StatusCode.NOT_FOUND, e
        if in_proposal == 1:
            break
        time.sleep(0.05)
    assert in_proposal == 1, funnel

    # Errors arrive as gRPC status codes a client can act on.
    try:
        pipeline.GetDeal(pb.GetDealRequest(id="nope"), metadata=md)
        raise AssertionError("a bad id was accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    try:
        pipeline.ListPipelines(pb.ListPipelinesRequest())
        raise AssertionError("a call without a token was accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e

    print(f"python client: pipeline {p.id}, deal moved to Proposal, history of {len(history.transitions)}, "
          f"funnel shows it, INVALID_ARGUMENT and UNAUTHENTICATED as expected")


if __name__ == "__main__":
    main()
