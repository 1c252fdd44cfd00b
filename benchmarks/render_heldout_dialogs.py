"""Render a held-out set of real GTK dialogs (zenity under Xvfb + openbox) with texts of
our own, none taken from the dev set, to check that text-channel accuracy on dialogs
is not a product of tuning to the dev images.

    apt-get install -y xvfb zenity openbox imagemagick x11-apps xterm gnome-themes-extra
    python benchmarks/render_heldout_dialogs.py benchmarks/.heldout   # ROOT/<state>/*.png

Seeded and repeatable up to font rendering. Backgrounds: 0-2 real X11 programs (xterm
running a command, xclock, xeyes, xcalc), light or dark GTK theme, three screen sizes.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

TEXTS = {
    "error_dialog": [
        ("Save failed", "Could not save the document: the disk is read-only."),
        (None, "Failed to connect to the database server at db.local:5432."),
        ("Cannot open file", "The file budget.ods is damaged and cannot be opened."),
        ("Installation error", "The installation failed because package dependencies are broken."),
        (None, "Access denied. You do not have permission to open this folder."),
        ("Network error", "The network is unreachable. Check your cable or Wi-Fi connection."),
        ("Crash", "The application quit unexpectedly."),
        (None, "Unable to mount the USB drive."),
    ],
    "warning_dialog": [
        ("Battery low", "The battery is almost empty (5%). Plug in the power cord."),
        (None, "This action cannot be undone."),
        ("Password expiring", "Your password will expire in 3 days."),
        ("Certificate", "The certificate of this site expired on 2 March."),
        (None, "Memory is running low. Close some applications."),
        ("Untrusted file", "This file was downloaded from the internet and may be unsafe."),
        ("Settings", "Some settings could not be applied and were reset to their defaults."),
        (None, "You are about to overwrite an existing backup."),
    ],
    "info_dialog": [
        ("Saved", "Your changes have been saved."),
        (None, "Export finished. 32 files were written to the Exports folder."),
        ("Update available", "A new version (5.2) is available for download."),
        ("Sync", "Synchronisation completed successfully."),
        (None, "The message was sent."),
        ("Scan complete", "Scan finished: no threats were found."),
        ("Printer", "The printer is ready."),
        (None, "Welcome to Photo Editor 3.0!"),
    ],
    "question_dialog": [
        ("Close document", "Do you want to close without saving?"),
        (None, "Delete the 3 selected files?"),
        ("Display settings", "Keep the new display settings?"),
        ("Restart", "Would you like to restart now to finish installing updates?"),
        (None, "Overwrite the existing file budget.xlsx?"),
        ("Log out", "Log out of your account now?"),
        (None, "Empty the trash?"),
        ("Drivers", "Install the recommended graphics drivers?"),
    ],
    "password_prompt": [
        ("Authentication required", "Enter the password for admin"),
        ("Unlock keyring", "Password for the login keyring"),
        ("Connect to server", "Password for files.example.org"),
        (None, None),
        ("Encrypted disk", "Enter the passphrase to unlock the disk"),
        ("Login", None),
        ("Wi-Fi network", "Password for network HomeNet"),
        (None, None),
    ],
    "progress_dialog": [
        ("Copying", "Copying 120 files to Backup..."),
        ("Downloading", "Downloading updates (34 MB)..."),
        (None, "Installing packages, please wait..."),
        ("Export", "Exporting video..."),
        ("Backup", "Backing up photos..."),
        (None, "Scanning for devices..."),
        ("Upload", "Uploading report.pdf..."),
        ("Indexing", "Indexing your documents..."),
    ],
    "file_chooser": [
        ("Open document", "open"),
        ("Save as", "save"),
        ("Choose a folder", "directory"),
        ("Attach files", "multiple"),
        ("Import pictures", "open"),
        ("Export settings", "save"),
        ("Select a backup location", "directory"),
        ("Open spreadsheet", "open"),
    ],
}

SIZES = [(1280, 800), (1920, 1080), (1366, 768)]
TERMINAL_COMMANDS = ["uname -a; uptime", "ls -la /etc | head -20", "cat /etc/os-release", "ps -e | head -15"]


def _zenity_args(state: str, title: str | None, text: str | None, rng: random.Random) -> list[str]:
    kind = {
        "error_dialog": "--error",
        "warning_dialog": "--warning",
        "info_dialog": "--info",
        "question_dialog": "--question",
        "password_prompt": "--password",
        "progress_dialog": "--progress",
        "file_chooser": "--file-selection",
    }[state]
    args = ["zenity", kind]
    if state == "file_chooser":
        args += ["--title", str(title)]
        args += {"open": [], "save": ["--save"], "directory": ["--directory"], "multiple": ["--multiple"]}[str(text)]
        return args
    if title:
        args += ["--title", title]
    if state == "password_prompt":
        if rng.random() < 0.5:
            args.append("--username")
        return args  # zenity's password dialog has no --text
    if text:
        args += ["--text", text]
    if state == "progress_dialog":
        args += ["--pulsate"] if rng.random() < 0.3 else ["--percentage", str(rng.randint(5, 95))]
    return args


def _fake_home(root: Path) -> Path:
    home = root / "home"
    for d, files in {
        "Documents": ["report-2024.odt", "budget.ods", "notes.txt", "letter.pdf"],
        "Pictures": ["beach.jpg", "family.png", "scan-001.png"],
        "Music": ["playlist.m3u"],
        "Downloads": ["setup.tar.gz", "manual.pdf"],
        "Desktop": [],
    }.items():
        (home / d).mkdir(parents=True, exist_ok=True)
        for f in files:
            (home / d / f).write_text("x" * 100)
    return home


def stop(procs: list[subprocess.Popen]) -> None:
    """Kill the programs of one shot (last started first) and reap them."""
    for p in reversed(procs):
        p.kill()
    for p in procs:
        p.wait()


def shot(
    procs: list[subprocess.Popen],
    env: dict[str, str],
    shade: str,
    background: list[list[str]],
    settle: float,
    dialog: list[str],
    dialog_wait: float,
    dest: Path,
    cwd: Path | None = None,
) -> None:
    """One screenshot on a running X display (window manager already up): root colour,
    background programs (0.6 s apart), ``settle``, the dialog, ``dialog_wait``, capture to
    ``dest``. Started programs are appended to ``procs`` for :func:`stop`."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(["xsetroot", "-solid", shade], env=env, check=False)
    for cmd in background:
        procs.append(subprocess.Popen(cmd, env=env, **quiet))
        time.sleep(0.6)
    time.sleep(settle)
    procs.append(subprocess.Popen(dialog, env=env, cwd=cwd, **quiet))
    time.sleep(dialog_wait)
    subprocess.run(["import", "-window", "root", str(dest)], env=env, check=True)


def render(out: Path, seed: int = 7) -> int:
    for tool in ("Xvfb", "zenity", "openbox", "import"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} not found; install: apt-get install -y xvfb zenity openbox imagemagick x11-apps xterm"
            )
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    home = _fake_home(out / ".scratch")
    n = 0
    for state, items in TEXTS.items():
        (out / state).mkdir(exist_ok=True)
        for i, (title, text) in enumerate(items):
            w, h = SIZES[(i + len(state)) % len(SIZES)]
            display = f":{90 + (n % 5)}"
            env = {**os.environ, "DISPLAY": display, "NO_AT_BRIDGE": "1", "HOME": str(home)}
            if rng.random() < 0.35:
                env["GTK_THEME"] = "Adwaita:dark"
            procs = [subprocess.Popen(["Xvfb", display, "-screen", "0", f"{w}x{h}x24"], stderr=subprocess.DEVNULL)]
            time.sleep(0.6)
            try:
                procs.append(subprocess.Popen(["openbox"], env=env, stderr=subprocess.DEVNULL))
                time.sleep(0.5)
                shade = rng.choice(["#3b4a6b", "#6b7b8c", "#2e3436", "#8a9a5b", "#d3d7cf"])
                subprocess.run(["xsetroot", "-solid", shade], env=env, check=False)
                for _ in range(rng.randint(0, 2)):
                    prog = rng.choice(["xterm", "xclock", "xeyes", "xcalc"])
                    x, y = rng.randint(0, w // 2), rng.randint(0, h // 2)
                    cmd = [prog, "-geometry", f"+{x}+{y}"]
                    if prog == "xterm":
                        cmd += ["-hold", "-e", "sh", "-c", rng.choice(TERMINAL_COMMANDS)]
                    procs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL))
                time.sleep(0.8)
                procs.append(
                    subprocess.Popen(
                        _zenity_args(state, title, text, rng),
                        env=env,
                        cwd=home / "Documents",
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                time.sleep(2.0)
                dest = out / state / f"heldout_{state}_{i + 1:02d}.png"
                subprocess.run(["import", "-window", "root", str(dest)], env=env, check=True)
                n += 1
            finally:
                stop(procs)
    shutil.rmtree(out / ".scratch", ignore_errors=True)
    return n


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / ".heldout"
    print(f"rendered {render(target)} screenshots under {target}")
