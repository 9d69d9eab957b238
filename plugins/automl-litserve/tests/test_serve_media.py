"""A text and an image model behind one real server on 127.0.0.1 (``models=[a,b]``), each with its
own key: JSON texts, base64 and multipart images, bytes that are not an image, the Python client,
and what the invoke log keeps (the text inline with its MiniLM embedding, the image bytes once in
the workspace's content-addressed folder). Stopped with Ctrl-C's SIGINT: nothing left running and
a row for every answer."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.serve.client import Client, ServerError
from automl.serve.local import LocalServer
from tests.helpers import post, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("AUTOML_SHARED_DATA", REPO.parent / "shared" / "data"))
QUICK = ["search.time_budget_s=null", "search.scheduler=fifo", "eval.cv_folds=3", "search.max_trials=1"]
SPAM = "WINNER!! You have won a free prize, call 09061701461 to claim now"


def automl(*args: str, ws: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "automl", *args, f"workspace={ws}"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 SMS texts and 40 images per label, copied from the shared datasets."""
    if not SHARED.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED}")
    root = tmp_path_factory.mktemp("data")
    sms = pd.read_csv(SHARED / "sms_spam" / "sms_spam.csv")
    pd.concat([sms[sms.label == "spam"].head(80), sms[sms.label == "ham"].head(120)]).to_csv(
        root / "sms.csv", index=False
    )
    for label in ("DogPresent", "NoDogPresent"):
        (root / "pets" / label).mkdir(parents=True)
        for src in sorted((SHARED / "dog_vs_not_oxford_pets" / label).glob("*.jpg"))[:40]:
            shutil.copy(src, root / "pets" / label / src.name)
    return root


@pytest.fixture(scope="module")
def served(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, dict[str, str]]]:
    ws = tmp_path_factory.mktemp("media") / "ws"
    sms = f"data.path={data / 'sms.csv'}"
    automl("run", "recipe=spam_filter", sms, "search.trainers=[linear_probe]", *QUICK, ws=ws)
    automl("run", "recipe=dog_classifier", f"data.path={data / 'pets'}", "search.backbones=[]",
           "search.trainers=[image_histogram]", *QUICK, ws=ws)  # fmt: skip
    keys = {m: automl("keys", "add", f"model={m}", ws=ws).splitlines()[0] for m in ("spam_filter", "dog_classifier")}
    server = LocalServer.start(ws, ["spam_filter", "dog_classifier"], ws.parent / "serve.log")
    yield server, keys
    server.kill()


def multipart(*files: bytes) -> tuple[bytes, str]:
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n' + f + b"\r\n" for f in files
    )
    return parts + b"--b--\r\n", "multipart/form-data; boundary=b"


def test_texts_and_images_with_per_model_keys(served: tuple[LocalServer, dict[str, str]], data: Path) -> None:
    server, keys = served
    dog = next((data / "pets" / "DogPresent").iterdir()).read_bytes()
    cat = next((data / "pets" / "NoDogPresent").iterdir()).read_bytes()
    text_path, image_path = "/v1/models/spam_filter/predict", "/v1/models/dog_classifier/predict"
    b64 = base64.b64encode(dog).decode()

    status, answer = post(server.port, text_path, json.dumps({"inputs": [SPAM, "ok see you at 5"]}).encode(),
                          keys["spam_filter"])  # fmt: skip
    assert status == 200, answer
    assert [p["label"] for p in answer["predictions"]] == ["spam", "ham"]
    assert set(answer["predictions"][0]["scores"]) == {"ham", "spam"}

    status, answer = post(server.port, image_path, json.dumps({"inputs": [b64]}).encode(), keys["dog_classifier"])
    assert status == 200, answer
    by_json = answer["predictions"][0]
    assert set(by_json["scores"]) == {"DogPresent", "NoDogPresent"} and by_json["version"] == 1
    body, ctype = multipart(dog, cat)
    status, answer = post(server.port, image_path, body, keys["dog_classifier"], ctype)
    assert status == 200, answer
    assert len(answer["predictions"]) == 2 and answer["predictions"][0]["scores"] == by_json["scores"]

    good_text = json.dumps({"inputs": ["hello"]}).encode()
    cases = {
        "image key on the text model": (post(server.port, text_path, good_text, keys["dog_classifier"])[0], 401),
        "text key on the image model": (
            post(server.port, image_path, json.dumps({"inputs": [b64]}).encode(), keys["spam_filter"])[0],
            401,
        ),
        "no key": (post(server.port, image_path, body, None, ctype)[0], 401),
        "base64 of bytes that are not an image": (
            post(
                server.port,
                image_path,
                json.dumps({"inputs": [base64.b64encode(b"GIF89a nope").decode()]}).encode(),
                keys["dog_classifier"],
            )[0],  # fmt: skip
            422,
        ),
        "a string that is not base64": (
            post(server.port, image_path, b'{"inputs": ["not base64!"]}', keys["dog_classifier"])[0],
            422,
        ),
        "a multipart file that is not an image": (
            post(server.port, image_path, multipart(b"plain text")[0], keys["dog_classifier"], ctype)[0],
            422,
        ),
        "a truncated jpeg": (
            post(server.port, image_path, multipart(dog[:200])[0], keys["dog_classifier"], ctype)[0],
            422,
        ),  # fmt: skip
        "a row to the image model": (
            post(server.port, image_path, b'{"inputs": [{"a": 1}]}', keys["dog_classifier"])[0],
            422,
        ),
        "a number to the text model": (post(server.port, text_path, b'{"inputs": [7]}', keys["spam_filter"])[0], 422),
        "an image file to the text model": (post(server.port, text_path, body, keys["spam_filter"], ctype)[0], 422),
    }
    wrong = {name: got for name, (got, want) in cases.items() if got != want}
    assert not wrong, wrong


def test_the_python_client(served: tuple[LocalServer, dict[str, str]], data: Path) -> None:
    server, keys = served
    client = Client(server.url, api_keys=keys)
    assert client.health() and client.ready()
    images = sorted((data / "pets" / "DogPresent").iterdir())[:2]
    by_path = client.predict("dog_classifier", images)
    by_part = client.predict("dog_classifier", [p.read_bytes() for p in images], multipart=True)
    assert [p.scores for p in by_path] == [p.scores for p in by_part] and by_path[0].model == "dog_classifier"
    from automl.model.predictor import load  # in-process, over the files: the same scores as decoded uploads

    local = load("dog_classifier", workspace=server.workspace).predict_proba([str(p) for p in images])
    served_scores = [[p.scores[c] for c in local.columns] for p in by_path]
    assert local.to_numpy() == pytest.approx(np.array(served_scores), abs=1e-6)
    (spam,) = client.predict("spam_filter", [SPAM], version=1)
    assert spam.label == "spam" and spam.version == 1 and len(spam.invoke_id) == 32
    with pytest.raises(ServerError) as err:
        Client(server.url, api_key="amk_000000000000_wrong").predict("spam_filter", ["hi"])
    assert err.value.status == 401
    with pytest.raises(ServerError) as err:
        client.predict("nope", ["hi"])
    assert err.value.status == 404


def test_the_log_keeps_inputs_and_embeddings_and_sigint_stops_cleanly(
    served: tuple[LocalServer, dict[str, str]], data: Path
) -> None:
    from automl.store.invokes import read_invokes
    from automl.store.invokes.blobs import read_blob

    server, keys = served
    client = Client(server.url, api_keys=keys)
    image = sorted((data / "pets" / "NoDogPresent").iterdir())[0]
    answered = [p.invoke_id for p in client.predict("spam_filter", [SPAM, "see you"])]
    answered += [p.invoke_id for p in client.predict("dog_classifier", [image, image])]  # the same bytes twice
    assert server.stop(signal.SIGINT) == 0, server.log.read_text()
    # the supervisor SIGKILLs what is left of the server as it exits; those take a moment to go
    wait_for(lambda: not server.processes(), timeout=30, interval=0.2, what="every process of the server to exit")
    rows = read_invokes(server.workspace)
    assert set(answered) <= set(rows["invoke_id"])
    texts = rows[rows["model"] == "spam_filter"].set_index("invoke_id").loc[answered[:2]]
    assert [json.loads(t) for t in texts["input_json"]] == [SPAM, "see you"]
    assert all(len(e) == 384 for e in texts["embedding"])  # all-MiniLM-L6-v2's embedding
    images = rows[rows["model"] == "dog_classifier"].set_index("invoke_id").loc[answered[2:]]
    assert images["input_json"].isna().all() and images["embedding"].isna().all()
    (blob,) = set(images["input_blob"])  # stored once
    assert read_blob(server.workspace, blob) == image.read_bytes()
