"""Write configs/battrang.yaml: the Bát Tràng commune site, 120+ cameras by area.

The station's real inventory replaces this; the generator keeps the example consistent
(unique ids, a sub-stream to analyse and a main stream to record for every camera,
logins from the environment). Run: python scripts/make_battrang_config.py
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

AREAS: dict[str, list[str]] = {
    "Thôn Bát Tràng": [
        "Chợ Gốm Bát Tràng",
        "Cổng làng Bát Tràng",
        "Đình Bát Tràng",
        "Văn chỉ Bát Tràng",
        "Bảo tàng Gốm Bát Tràng",
        "Phố cổ Xóm 1",
        "Phố cổ Xóm 2",
        "Phố cổ Xóm 3",
        "Ngõ Gạch cổ",
        "Bến đò Bát Tràng",
        "Bến xe buýt 47A",
        "Quảng trường Gốm",
        "Đường Bát Tràng - Giang Cao",
        "Trường THCS Bát Tràng",
        "Trường Tiểu học Bát Tràng",
        "Nhà thờ họ Lê",
        "Nhà thờ họ Nguyễn",
        "Khu lò gốm cổ",
        "Cửa hàng gốm phố Chợ",
        "Ngã ba Xóm Chợ",
        "Ngã tư Chợ Gốm",
        "Bãi đỗ xe du lịch",
        "Đường ven sông",
        "Cầu cảng Bát Tràng",
    ],
    "Thôn Giang Cao": [
        "Cổng làng Giang Cao",
        "Đình Giang Cao",
        "Chùa Giang Cao",
        "Nhà văn hoá Giang Cao",
        "Xóm Đình",
        "Xóm Đông",
        "Xóm Tây",
        "Xóm Chợ",
        "Đường trục thôn Giang Cao",
        "Khu lò nung tập trung",
        "Ngã ba Giang Cao",
        "Trạm biến áp Giang Cao",
        "Trường Mầm non Giang Cao",
        "Bãi tập kết vật liệu",
        "Kho hàng gốm Giang Cao",
        "Ao làng Giang Cao",
        "Sân bóng Giang Cao",
        "Đường gom đê",
    ],
    "Thôn Kim Lan": [
        "Cổng làng Kim Lan",
        "Đình Kim Lan",
        "Chùa Kim Trung",
        "Bến đò Kim Lan",
        "Trường THCS Kim Lan",
        "Chợ Kim Lan",
        "Ngã tư Kim Lan",
        "Xóm 1 Kim Lan",
        "Xóm 2 Kim Lan",
        "Xóm 3 Kim Lan",
        "Xóm 4 Kim Lan",
        "Bãi bồi Kim Lan",
        "Khu gốm Kim Lan",
        "Nhà văn hoá Kim Lan",
        "Ngõ Đình Kim Lan",
        "Trạm bơm Kim Lan",
        "Nghĩa trang Kim Lan",
        "Đường Kim Lan - Văn Đức",
    ],
    "Thôn Văn Đức": [
        "Cổng làng Văn Đức",
        "Đình Văn Đức",
        "Chợ Văn Đức",
        "Khu trồng hoa Văn Đức",
        "Bến Văn Đức",
        "Ngã ba Văn Đức",
        "Trường Tiểu học Văn Đức",
        "Trạm y tế Văn Đức",
        "Xóm Bãi",
        "Xóm Trại",
        "Đường đê Văn Đức",
        "Cống Văn Đức",
        "Vườn đào Văn Đức",
        "Nhà văn hoá Văn Đức",
        "Bãi đỗ xe Văn Đức",
    ],
    "Thôn Đa Tốn": [
        "Cổng làng Đa Tốn",
        "Đình Đa Tốn",
        "Chợ Đa Tốn",
        "Ngã tư Đa Tốn",
        "Cầu Đa Tốn",
        "Khu đô thị Ocean Park cổng 1",
        "Khu đô thị Ocean Park cổng 2",
        "Trường THCS Đa Tốn",
        "Xóm Đồng",
        "Xóm Giữa",
        "Đường Đa Tốn - Bát Tràng",
        "Nút giao Đông Dư",
        "Trạm y tế Đa Tốn",
        "Nhà văn hoá Đa Tốn",
        "Trường Tiểu học Đa Tốn",
    ],
    "Đê sông Hồng": [
        "Đê tả Hồng Km 1",
        "Đê tả Hồng Km 2",
        "Đê tả Hồng Km 3",
        "Đê tả Hồng Km 4",
        "Dốc đê Bát Tràng",
        "Dốc đê Giang Cao",
        "Dốc đê Kim Lan",
        "Dốc đê Văn Đức",
        "Điếm canh đê số 1",
        "Điếm canh đê số 2",
        "Bãi sông Bát Tràng",
        "Bãi cát Kim Lan",
        "Đê tả Hồng Km 5",
        "Đê tả Hồng Km 6",
        "Điếm canh đê số 3",
        "Trạm bơm tiêu Giang Cao",
    ],
    "Trụ sở và công trình công cộng": [
        "Cổng UBND xã",
        "Sân UBND xã",
        "Bãi đỗ xe UBND xã",
        "Cổng Công an xã",
        "Phòng trực ban Công an xã",
        "Kho vật chứng",
        "Sân Công an xã",
        "Hành lang tạm giữ",
        "Trạm y tế xã",
        "Bưu điện văn hoá xã",
        "Nhà văn hoá trung tâm",
        "Sân vận động xã",
        "Trạm cấp nước",
        "Điểm tập kết rác",
        "Cây xăng Bát Tràng",
        "Ngân hàng Agribank Bát Tràng",
    ],
}

CODE = {
    "Thôn Bát Tràng": "bt",
    "Thôn Giang Cao": "gc",
    "Thôn Kim Lan": "kl",
    "Thôn Văn Đức": "vd",
    "Thôn Đa Tốn": "dt",
    "Đê sông Hồng": "de",
    "Trụ sở và công trình công cộng": "ts",
}
PREFIX = {
    "Thôn Bát Tràng": "10.21.1",
    "Thôn Giang Cao": "10.21.2",
    "Thôn Kim Lan": "10.21.3",
    "Thôn Văn Đức": "10.21.4",
    "Thôn Đa Tốn": "10.21.5",
    "Đê sông Hồng": "10.21.6",
    "Trụ sở và công trình công cộng": "10.21.7",
}
NIGHT_AREAS = {"Đê sông Hồng", "Trụ sở và công trình công cộng"}
CROWD_WORDS = ("Chợ", "Quảng trường", "Bến")


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in plain if unicodedata.category(c) != "Mn").lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def camera_yaml(area: str, index: int, name: str) -> str:
    host = f"{PREFIX[area]}.{10 + index}"
    lines = [
        f"  - id: {CODE[area]}-{slug(name)}",
        f'    name: "{name}"',
        f'    area: "{area}"',
        f"    detect_url: rtsp://{host}:554/Streaming/Channels/102",
        f"    record_url: rtsp://{host}:554/Streaming/Channels/101",
        "    credentials: {username_env: BATTRANG_CAM_USER, password_env: BATTRANG_CAM_PASSWORD}",
    ]
    if area in NIGHT_AREAS:
        lines += [
            "    zones:",
            "      - name: vung-cam",
            "        points: [[0.05, 0.3], [0.95, 0.3], [0.95, 0.98], [0.05, 0.98]]",
            "    rules:",
            "      - kind: intrusion",
            "        name: dot-nhap-ban-dem",
            "        zone: vung-cam",
            "        classes: [person, motorcycle, car]",
            "        min_presence_s: 2",
            '        schedule: {start: "22:00", end: "05:00"}',
            "        severity: critical",
        ]
    elif any(word in name for word in CROWD_WORDS):
        lines += ["    analysis_fps: 3"]
    return "\n".join(lines)


def main() -> None:
    cameras = [
        camera_yaml(area, index, name)
        for area, names in AREAS.items()
        for index, name in enumerate(names)
    ]
    header = f"""# Bát Tràng commune (Gia Lâm, Hà Nội): {len(cameras)} cameras around the commune.
# Generated by scripts/make_battrang_config.py. Camera logins come from the environment
# (BATTRANG_CAM_USER, BATTRANG_CAM_PASSWORD) and are never written here.
site:
  name: "Công an xã Bát Tràng"
  timezone: Asia/Ho_Chi_Minh

storage:
  database: data/battrang.db

dashboard:
  host: 0.0.0.0
  port: 8443
  redirect_port: 8000   # http://... only redirects to https
  tls:                  # the station's certificate from the province's authority
    cert: /etc/matthan/tls/dashboard.crt
    key: /etc/matthan/tls/dashboard.key
  allowed_hosts: [matthan.battrang.lan, 10.21.0.2]   # how the desks reach the station
  language: vi

detector:
  backend: openvino
  model: yolov8n-int8.xml   # made by `matthan quantize` (scripts/install); fp32: yolov8n.onnx
  mode: regions    # look where something moves, in crops of region_size; frame: whole frames
  region_size: 320
  input_size: 640  # frame mode only
  max_batch: 8
  max_wait_ms: 20

ingest:
  analysis_fps: 5

cameras:
"""
    out = Path(__file__).resolve().parents[1] / "configs" / "battrang.yaml"
    out.write_text(header + "\n\n".join(cameras) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(cameras)} cameras)")


if __name__ == "__main__":
    main()
