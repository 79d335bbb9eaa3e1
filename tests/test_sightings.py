"""Investigation search: every track's best sighting kept with its colours and appearance,
found by class and colour, ranked by likeness, and forgotten with the footage.

The pipeline test runs the real model and tracker over the real PETS 2009 crossroads clip,
where a woman in a red jacket walks among people in dark clothes (and a man in a red and
navy jacket), keeps every ended track's sighting in a real store, and asks for "person, red".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from common import plates, sightings
from common.config import RecordingConfig, SiteConfig
from common.plates import NewPlateRead
from common.sightings import NewSighting, SightingQuery
from common.store import Store
from detect.appearance import appearance_vector, colour_shares, dominant, similarity
from ingest.retention import RetentionSweeper
from tests.pets_sightings import RED_WOMAN_S, analyse_pets, keep_sightings

SITE = SiteConfig.model_validate(
    {
        "site": {"name": "test"},
        "detector": {"input_size": 640},
        "ingest": {"analysis_fps": 2},
        "cameras": [
            {
                "id": "nga-tu",
                "name": "Ngã tư",
                "detect_url": "rtsp://127.0.0.1/pets",
                "zones": [
                    {"name": "nua-duoi", "points": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]},
                    {"name": "nua-tren", "points": [[0, 0], [1, 0], [1, 0.5], [0, 0.5]]},
                ],
                "rules": [
                    {
                        "kind": "intrusion",
                        "name": "nguoi",
                        "zone": "nua-duoi",
                        "classes": ["person"],
                    }
                ],
            }
        ],
    }
)


def patch(bgr: tuple[int, int, int], size: int = 60) -> np.ndarray:
    return np.full((size * 2, size, 3), bgr, np.uint8)


def test_colours_are_named_and_shared() -> None:
    red = colour_shares(patch((30, 30, 200)))
    assert dominant(red) == ["red"]
    assert red["red"] > 0.95
    assert dominant(colour_shares(patch((160, 60, 20)))) == ["blue"]
    assert dominant(colour_shares(patch((15, 15, 15)))) == ["black"]
    assert dominant(colour_shares(patch((235, 235, 235)))) == ["white"]
    two = np.vstack([patch((30, 30, 200)), patch((15, 15, 15))])
    assert set(dominant(colour_shares(two))) == {"red", "black"}
    assert colour_shares(np.zeros((0, 0, 3), np.uint8)) == {}


def test_appearance_tells_a_red_top_from_a_navy_one() -> None:
    red_top = np.vstack([patch((30, 30, 200)), patch((120, 90, 60))])
    red_top_again = np.vstack([patch((40, 35, 190)), patch((125, 95, 55))])
    navy_top = np.vstack([patch((80, 20, 20)), patch((120, 90, 60))])
    a, b, c = (appearance_vector(x) for x in (red_top, red_top_again, navy_top))
    assert abs(float(np.linalg.norm(a)) - 1) < 1e-5
    assert similarity(a, b) > similarity(a, c) + 0.2
    assert not appearance_vector(np.zeros((1, 1, 3), np.uint8)).any()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "site.db")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def pets_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The PETS clip analysed at 2 fps, every ended track's sighting kept."""
    opened = Store(tmp_path_factory.mktemp("pets") / "site.db")
    tracks = analyse_pets(SITE, 1_800_000_000.0, alerts=opened)
    keep_sightings(opened, tracks, SITE.cameras[0])
    yield opened
    opened.close()


def test_person_in_red_comes_first_and_more_like_this_finds_her_again(pets_store: Store) -> None:
    people = sightings.search(pets_store, SightingQuery(class_name="person", limit=500))
    assert len(people) >= 10, "the crossroads has about 20 people"
    red = sightings.search(pets_store, SightingQuery(class_name="person", colour="red"))
    assert red, "nobody in red"
    first = red[0]
    assert "red" in first.dominant(), first.colours
    assert all(other.colours["red"] <= first.colours["red"] for other in red)
    start = 1_800_000_000.0
    assert RED_WOMAN_S[0] <= first.best_at - start <= RED_WOMAN_S[1], first
    assert first.first_seen <= first.best_at <= first.last_seen
    assert len(red) < len(people) / 2, "a colour search narrows the people down"
    picture = sightings.crop(pets_store, first.id)
    assert picture is not None
    image = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert "red" in dominant(colour_shares(np.asarray(image, np.uint8)))

    alike = sightings.similar(pets_store, first.id, SightingQuery(limit=5))
    assert alike
    assert all(record.id != first.id for record, _ in alike)
    assert [score for _, score in alike] == sorted((score for _, score in alike), reverse=True)
    assert "red" in alike[0][0].dominant(), alike[0]
    darkest = sightings.similar(pets_store, first.id, SightingQuery(limit=500))[-1][0]
    assert "red" not in darkest.dominant()


def test_zones_and_time_narrow_the_search(pets_store: Store) -> None:
    everyone = sightings.search(pets_store, SightingQuery(limit=500))
    lower = sightings.search(pets_store, SightingQuery(zone="nua-duoi", limit=500))
    upper = sightings.search(pets_store, SightingQuery(zone="nua-tren", limit=500))
    assert lower
    assert upper
    assert {s.id for s in lower}.isdisjoint({s.id for s in upper})
    assert all("nua-duoi" in s.zones for s in lower)
    middle = 1_800_000_000.0 + 40
    early = sightings.search(pets_store, SightingQuery(until=middle, limit=500))
    assert 0 < len(early) < len(everyone)
    assert all(s.first_seen <= middle for s in early)
    assert sightings.search(pets_store, SightingQuery(cameras=())) == []
    assert sightings.search(pets_store, SightingQuery(cameras=("khac",))) == []


def sighting_at(at: float, camera: str = "nga-tu") -> NewSighting:
    return NewSighting(
        camera_id=camera,
        track_id=1,
        class_name="person",
        confidence=0.9,
        first_seen=at - 5,
        last_seen=at,
        best_at=at - 2,
        box=(1.0, 2.0, 30.0, 80.0),
        zones=(),
        colours={"red": 0.6, "black": 0.4},
        appearance=np.full(4, 0.5, np.float32),
        crop_jpeg=b"\xff\xd8",
    )


def test_sightings_and_plate_reads_are_forgotten_with_the_footage(
    store: Store, tmp_path: Path
) -> None:
    now = time.time()
    old = sightings.add_sighting(store, sighting_at(now - 3 * 86400))
    recent = sightings.add_sighting(store, sighting_at(now - 3600))
    read = NewPlateRead(
        "nga-tu",
        1,
        "car",
        "51G-971.62",
        0.9,
        1,
        1,
        now - 4 * 86400,
        now - 4 * 86400,
        "detect",
        b"\xff\xd8",
    )
    plates.save_read(store, read)
    config = RecordingConfig(path=tmp_path / "rec", retain_days=2, min_free_gb=0)
    RetentionSweeper(store, config).sweep(now)
    assert sightings.sighting(store, old) is None
    assert sightings.sighting(store, recent) is not None
    assert plates.search_reads(store, plates.PlateQuery()) == []
