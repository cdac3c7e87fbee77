"""`sg3-explorer project`: find the latent of your own image (W or W+), write it, its image and optionally a video.

The optimization is the backend's `project` analysis, here (a thread backend on `--device`) or on a server
(`--connect`): the target is prepared here (crop, resize), every step streams back to the progress bar and the
video, and the files are the same either way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylegan3.cli.args import add_device_argument, add_network_argument
from stylegan3.errors import SG3Error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "project",
        help="project an image into the network's latent space (W or W+)",
        description="Optimize a latent so that the network draws the target image (centre-cropped and resized "
        "to the network's resolution). Writes projected_w.npz (the ws, usable as a keyframe), projected.png, "
        "target.png and with --video projection.mp4 (target | reconstruction at every step).",
    )
    add_network_argument(p)
    p.add_argument("--target", type=Path, required=True, metavar="IMAGE", help="PNG / JPEG / ... to project")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps (300)")
    p.add_argument("--space", choices=["w", "w+"], default="w+", help="one w for all layers, or one per ws (w+)")
    p.add_argument("--loss", choices=["auto", "offline", "lpips"], default="auto",
                   help="auto: LPIPS when installed and its weights are cached, else the offline loss; lpips: "
                   "download its weights once if needed; offline: multi-scale pixel + gradient, no download")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the w samples whose mean is the start (0)")
    p.add_argument("--outdir", type=Path, required=True, help="output folder (created if needed)")
    p.add_argument("--video", action="store_true", help="also write the optimization as projection.mp4")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second of --video (30)")
    add_device_argument(p)
    from stylegan3.cli.remote import add_connect_arguments

    add_connect_arguments(p, frames=False)
    p.set_defaults(func=run)


_ABORT = object()


class _VideoSink:
    """Frames pushed from the projection's steps, encoded by `write_video` on a thread of its own (it pulls
    from an iterator); a bounded queue keeps at most a few frames in memory."""

    def __init__(self, out: Path, fps: float, total: int) -> None:
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None

        def frames():
            while (frame := self._queue.get()) is not None:
                if frame is _ABORT:  # the projection failed: write_video leaves no file behind
                    raise SG3Error("projection interrupted")
                yield frame

        def write() -> None:
            from stylegan3.explore.video import write_video

            try:
                write_video(frames(), out, fps=fps, total=total, progress=False)
            except BaseException as exc:  # noqa: BLE001 - raised again on the main thread
                self.error = exc
                while self._queue.get() not in (None, _ABORT):  # let the producer finish
                    pass

        self._thread = threading.Thread(target=write, name="sg3-project-video", daemon=True)
        self._thread.start()

    def put(self, frame) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(frame)

    def close(self, complete: bool) -> None:
        """Finish the file (`complete`) or drop it (the projection failed: its own error is the one to see)."""
        self._queue.put(None if complete and self.error is None else _ABORT)  # also ends the writer's drain
        self._thread.join()
        if complete and self.error is not None:
            raise self.error


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from stylegan3.cli.remote import analyze, load, open_backend
    from stylegan3.documents.request import NetworkRef, RenderRequest
    from stylegan3.explore.projection import load_target, save_projection
    from stylegan3.render.images import to_numpy_rgb
    from stylegan3.service import analyses

    if not 1 <= args.steps <= 100_000:
        raise SG3Error("--steps must be between 1 and 100000")
    if not args.fps > 0:
        raise SG3Error("--fps must be positive")
    if args.video:
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise SG3Error("--video needs imageio and imageio-ffmpeg: pip install 'sg3-explorer[video]'") from None
    if args.loss == "lpips" and not args.connect:  # a server checks its own install
        from stylegan3.explore.projection import check_perceptual

        check_perceptual()
    with open_backend(args) as backend:
        info = load(backend, args.network)
        target = load_target(args.target, int(info.resolution), int(info.img_channels))  # a bad image fails here
        print(f"space {args.space.upper()}, {args.steps} steps")
        try:
            args.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SG3Error(f"{args.outdir}: cannot create output folder ({exc.strerror})") from None
        target_rgb = to_numpy_rgb(target)
        Image.fromarray(target_rgb).save(args.outdir / "target.png")

        from stylegan3.render.images import pad_to_block

        video = _VideoSink(args.outdir / "projection.mp4", args.fps, args.steps + 1) if args.video else None
        bar = tqdm(total=args.steps, unit="step", desc="projecting")

        def on_step(step) -> None:
            bar.update(step.step - bar.n)
            bar.set_postfix(loss=f"{step.loss:.4g}")
            if video is not None:
                video.put(pad_to_block(np.concatenate([target_rgb, to_numpy_rgb(step.image)], axis=1)))

        complete = False
        try:
            result = analyze(lambda: analyses.run_projection(
                backend, RenderRequest(network=NetworkRef(args.network)), target, args.steps, args.space, args.loss,
                on_step, lr=args.lr, seed=args.seed))
            complete = True
        finally:
            bar.close()
            if video is not None:
                video.close(complete)
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    last = result.step
    Image.fromarray(to_numpy_rgb(last.image)).save(args.outdir / "projected.png")
    save_projection(args.outdir / "projected_w.npz", last, {
        "space": args.space, "loss_kind": result.loss_kind, "target": str(args.target), "network": result.network,
        "network_source": str(args.network), "psnr_db": result.psnr, "lr": args.lr, "seed": args.seed,
    })  # fmt: skip
    written = ["projected_w.npz", "projected.png", "target.png"] + (["projection.mp4"] if args.video else [])
    print(f"loss: {result.loss_description}")
    print(f"wrote {', '.join(str(args.outdir / n) for n in written)}; final loss {last.loss:.4g}, "
          f"PSNR {result.psnr:.1f} dB")
    return 0
