"""`FrameChannels.release`: a view that is gone for good (a closed browser tab) stops its frame in flight, and
the next view's waiting request goes at once instead of waiting for a frame nobody will see."""

from __future__ import annotations

from sg3_explorer.visualizer.backend_renderer import FrameChannels
from stylegan3.documents.request import RenderRequest
from stylegan3.service.backend import FrameResult


class RecordingBackend:
    """Takes requests, finishes none until told; records cancels (what the hub may do to it)."""

    def __init__(self) -> None:
        self.submitted: list[RenderRequest] = []
        self.cancels = 0
        self.ready: FrameResult | None = None

    def submit(self, request: RenderRequest) -> int:
        self.submitted.append(request)
        return len(self.submitted)

    def poll(self) -> FrameResult | None:
        res, self.ready = self.ready, None
        return res

    def wait_result(self, timeout: float) -> FrameResult | None:
        return self.poll()

    def cancel(self) -> None:
        self.cancels += 1


def test_releasing_the_view_in_flight_cancels_it_and_sends_the_next():
    backend = RecordingBackend()
    hub = FrameChannels(backend)
    closing, staying = hub.channel(), hub.channel()
    closing.submit(RenderRequest().with_seed(1))  # in flight at once
    staying.submit(RenderRequest().with_seed(2))  # waits for the one in flight
    assert [r.latent.x for r in backend.submitted] == [1.0]
    hub.release(closing)
    assert backend.cancels == 1
    assert [r.latent.x for r in backend.submitted] == [1.0, 2.0]  # sent without waiting for the dropped frame
    backend.ready = FrameResult(2, backend.submitted[1], None)
    hub.wait(0.0)
    assert staying.poll() is not None and closing.poll() is None


def test_releasing_a_waiting_view_leaves_the_frame_in_flight_alone():
    backend = RecordingBackend()
    hub = FrameChannels(backend)
    busy, waiting = hub.channel(), hub.channel()
    busy.submit(RenderRequest().with_seed(1))
    waiting.submit(RenderRequest().with_seed(2))
    hub.release(waiting)
    assert backend.cancels == 0
    backend.ready = FrameResult(1, backend.submitted[0], None)
    hub.pump()
    assert busy.poll() is not None
    assert [r.latent.x for r in backend.submitted] == [1.0]  # the released view's request never went
