#!/usr/bin/env bash
# screenshot.sh makes the README's pictures from the real, running wiretop, and
# replays demo.tape's keys in tmux (VHS needs ttyd, which Debian 12 lacks).
#
# Picture mode (the default):
#   scripts/screenshot.sh [-s WxH]... [-w SECONDS] [-k KEY]... [-o DIR] [-n NAME] [-- WIRETOP-ARGS...]
#
#   Builds wiretop (go build, into a temp dir), starts it with WIRETOP-ARGS in a
#   private tmux server once per size (default 120x40 and 200x60, side by side,
#   so all see the same moment), waits SECONDS, sends the -k keys in order (tmux
#   key names: Tab, Enter, Escape, BTab, C-c, or literal text such as 4 or
#   "tcp port 80"), captures each pane with `tmux capture-pane -e -p`, renders
#   the ANSI text to SVG (every cell placed on the grid, Unifont for Braille and
#   box drawing, the font subset embedded when python3-fonttools is there) and
#   to PNG (rsvg-convert, 2x), then quits wiretop with q and checks that it
#   exited 0. Outputs, in DIR (default docs/):
#     NAME.png, NAME.svg     the first size          (NAME defaults to screenshot)
#     NAME-WxH.png           every further size
#   WIRETOP-ARGS default to `-r testdata/pcap/demo.pcap --speed 1` (and the wait
#   to 26 s: the download, then the port scan under way). A build that refuses
#   -r ("not part of this build yet") gets `--no-capture` instead, with a warning.
#
# Tape mode:
#   scripts/screenshot.sh --tape demo.tape [-s WxH] [--frames DIR]
#
#   Starts bash in tmux (PATH with the fresh wiretop first, cwd the repo root)
#   and plays the tape's Type, Enter, Tab, Escape, Backspace, Space, arrows,
#   Ctrl+X, Sleep, Wait and Screenshot lines; Output, Set, Hide and Show do
#   nothing here, Require checks the command, Env exports. With --frames, the
#   screen is captured (ANSI and PNG) after every Sleep. At the end wiretop must
#   have quit with status 0, leaving the alternate screen and showing the cursor.
#
# Why not charmbracelet/freeze (v0.2.2 was tried): it sizes cells and background
# rectangles for JetBrains Mono (1:1.68), drops SGR 1, 2 and 7 (bold, dim,
# reverse) and 39/49 (default colours); and of the monospace fonts tried here
# (DejaVu Sans Mono, FreeMono, JetBrains Mono, Fira Code, Unifont) only Unifont,
# with a 1:2 cell, has Braille, so freeze's backgrounds drift off its text.
# This script places every cell on the grid itself.
#
# Needs: go, tmux, librsvg2-bin (rsvg-convert), fonts-unifont, python3;
# python3-fonttools (for /usr/bin/python3) to embed the font in the SVG.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO_ARGS=(-r testdata/pcap/demo.pcap --speed 1)
FALLBACK_ARGS=(--no-capture)
SIZES=() KEYS=() ARGS=() WAIT="" TAPE="" FRAMES="" OUTDIR="$ROOT/docs" NAME=screenshot
SCALE=2 # PNG zoom: Unifont is drawn on a 8x16 grid, so integer zooms stay crisp

die() { echo "screenshot: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	-s | --size) SIZES+=("$2"); shift 2 ;;
	-w | --wait) WAIT=$2; shift 2 ;;
	-k | --key) KEYS+=("$2"); shift 2 ;;
	-o | --out) OUTDIR=$2; shift 2 ;;
	-n | --name) NAME=$2; shift 2 ;;
	--tape) TAPE=$2; shift 2 ;;
	--frames) FRAMES=$2; shift 2 ;;
	-h | --help) usage 0 ;;
	--) shift; ARGS=("$@"); break ;;
	*) echo "screenshot: unknown option $1" >&2; usage 2 ;;
	esac
done
[ ${#SIZES[@]} -gt 0 ] || { if [ -n "$TAPE" ]; then SIZES=(120x40); else SIZES=(120x40 200x60); fi; }
for s in "${SIZES[@]}"; do [[ $s =~ ^[0-9]+x[0-9]+$ ]] || die "size $s: want COLSxROWS, e.g. 120x40"; done
[[ -z $WAIT || $WAIT =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "wait $WAIT: want seconds"

need() { command -v "$1" >/dev/null || die "$1 not found (apt-get install -y $2)"; }
need go golang; need tmux tmux; need rsvg-convert librsvg2-bin
UNIFONT=$(fc-match -f '%{file}' Unifont 2>/dev/null || true)
case $UNIFONT in *unifont*) ;; *) die "the Unifont font is not installed (apt-get install -y fonts-unifont)" ;; esac
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # Debian's, where python3-fonttools lives
command -v "$PY" >/dev/null || die "python3 not found (apt-get install -y python3)"

TMP=$(mktemp -d /tmp/screenshot.XXXXXX)
SOCK=wtshot-$$-$RANDOM
TM=(tmux -L "$SOCK" -f "$TMP/tmux.conf")
cleanup() {
	"${TM[@]}" kill-server 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
cat >"$TMP/tmux.conf" <<'EOF'
set -g status off
set -g remain-on-exit on
set -g default-terminal tmux-256color
set -g history-limit 0
set -g escape-time 0
EOF

# --- the ANSI -> SVG renderer ------------------------------------------------
cat >"$TMP/render.py" <<'EOF'
"""Render `tmux capture-pane -e -p` output to SVG, one cell per character."""
import base64, html, io, sys, unicodedata

# render.py ANSI COLS ROWS [SVG FONT]: without SVG, only check that no line is
# wider than COLS and there are no more than ROWS lines (exit 3 if one is).
ansi_path, cols, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out_path, font_path = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
CW, CH, ASC, PAD, FS = 8, 16, 14, 12, 16  # Unifont: 8x16 cells, ascent 14 at 16 px
BG, FG = "#161821", "#d2d4de"  # a dark terminal; wiretop picks its dark theme under tmux
BASE16 = ["#1e2132", "#e27878", "#b4be82", "#e2a478", "#84a0c6", "#a093c7", "#89b8c2", "#c6c8d1",
          "#6b7089", "#e98989", "#c0ca8e", "#e9b189", "#91acd1", "#ada0d3", "#95c4ce", "#d2d4de"]

def xterm(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        lv = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (lv[n // 36], lv[n // 6 % 6], lv[n % 6])
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)

def width(ch):
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1

class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "under", "strike", "rev")
    def __init__(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.italic = self.under = self.strike = self.rev = False
    def copy(self):
        s = Style()
        for k in self.__slots__:
            setattr(s, k, getattr(self, k))
        return s
    def key(self):
        return tuple(getattr(self, k) for k in self.__slots__)

def sgr(st, params):
    ps = [p for p in params.replace(":", ";").split(";")] or ["0"]
    i = 0
    while i < len(ps):
        p = int(ps[i] or 0)
        if p == 0: st.__init__()
        elif p == 1: st.bold = True
        elif p == 2: st.dim = True
        elif p == 3: st.italic = True
        elif p == 4: st.under = True
        elif p == 7: st.rev = True
        elif p == 9: st.strike = True
        elif p == 22: st.bold = st.dim = False
        elif p == 23: st.italic = False
        elif p == 24: st.under = False
        elif p == 27: st.rev = False
        elif p == 29: st.strike = False
        elif 30 <= p <= 37: st.fg = xterm(p - 30)
        elif 90 <= p <= 97: st.fg = xterm(p - 90 + 8)
        elif 40 <= p <= 47: st.bg = xterm(p - 40)
        elif 100 <= p <= 107: st.bg = xterm(p - 100 + 8)
        elif p == 39: st.fg = None
        elif p == 49: st.bg = None
        elif p in (38, 48, 58) and i + 1 < len(ps):
            if ps[i + 1] == "5" and i + 2 < len(ps):
                c = xterm(int(ps[i + 2]) & 255); i += 2
            elif ps[i + 1] == "2" and i + 4 < len(ps):
                c = "#%02x%02x%02x" % tuple(int(x or 0) & 255 for x in ps[i + 2:i + 5]); i += 4
            else:
                c = None; i += 1
            if p == 38: st.fg = c
            elif p == 48: st.bg = c
        i += 1

grid = [[(" ", Style()) for _ in range(cols)] for _ in range(rows)]
st = Style()  # tmux carries the style from one line to the next
text = open(ansi_path, encoding="utf-8", errors="replace").read()
lines = text.split("\n")
if lines and lines[-1] == "":
    lines.pop()
overflow = []
if len(lines) > rows:
    overflow.append("%d lines (window %d)" % (len(lines), rows))
for r, line in enumerate(lines[:rows]):
    c, i = 0, 0
    while i < len(line):
        ch = line[i]
        if ch == "\x1b":
            if line[i + 1:i + 2] == "[":
                j = i + 2
                while j < len(line) and not ("\x40" <= line[j] <= "\x7e"):
                    j += 1
                if j < len(line) and line[j] == "m":
                    sgr(st, line[i + 2:j])
                i = j + 1
            elif line[i + 1:i + 2] == "]":  # OSC, to BEL or ST
                j = i + 2
                while j < len(line) and line[j] != "\x07" and line[j:j + 2] != "\x1b\\":
                    j += 1
                i = j + (1 if line[j:j + 1] == "\x07" else 2)
            else:
                i += 2
            continue
        i += 1
        w = width(ch)
        if w == 0:
            if c > 0:
                prev, pst = grid[r][c - 1]
                grid[r][c - 1] = (prev + ch, pst)
            continue
        if c + w > cols:
            c += w
            continue
        grid[r][c] = (ch, st.copy())
        if w == 2:
            grid[r][c + 1] = ("", st.copy())
        c += w
    if c > cols:
        overflow.append("line %d is %d cells wide (window %d)" % (r + 1, c, cols))
for o in overflow:
    print("screenshot: %s: %s" % (ansi_path, o), file=sys.stderr)
if out_path is None:
    sys.exit(3 if overflow else 0)

def colours(s):
    fg, bg = s.fg or FG, s.bg
    if s.rev:
        fg, bg = (bg or BG), fg
    return fg, bg

W, H = cols * CW + 2 * PAD, rows * CH + 2 * PAD
out = []
used = set()
for r in range(rows):  # backgrounds: runs of one colour
    c = 0
    while c < cols:
        _, bg = colours(grid[r][c][1])
        e = c + 1
        while e < cols and colours(grid[r][e][1])[1] == bg:
            e += 1
        if bg is not None and bg.lower() != BG:
            out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>' % (PAD + c * CW, PAD + r * CH, (e - c) * CW, CH, bg))
        c = e
for r in range(rows):  # text: runs of one style, every glyph at its cell
    c = 0
    while c < cols:
        s = grid[r][c][1]
        e = c + 1
        while e < cols and grid[r][e][1].key() == s.key():
            e += 1
        # spaces stay in the text: librsvg flows glyphs and honours only the first
        # x, so runs must be whole; browsers take every glyph's x from the list
        chars = [(k, grid[r][k][0]) for k in range(c, e) if grid[r][k][0] != ""]
        if any(ch != " " for _, ch in chars):
            fg, _ = colours(s)
            attrs = ['fill="%s"' % fg]
            if s.bold: attrs.append('font-weight="bold"')
            if s.italic: attrs.append('font-style="italic"')
            if s.dim: attrs.append('fill-opacity="0.6"')
            deco = " ".join(d for d, on in (("underline", s.under), ("line-through", s.strike)) if on)
            if deco: attrs.append('text-decoration="%s"' % deco)
            xs = " ".join(str(PAD + k * CW) for k, _ in chars)
            txt = "".join(ch for _, ch in chars)
            used.update(txt)
            out.append('<text x="%s" y="%d" %s>%s</text>' % (xs, PAD + r * CH + ASC, " ".join(attrs), html.escape(txt, quote=False)))
            if s.under or s.strike:  # decorations across the whole run, spaces included
                y = PAD + r * CH + (ASC + 1 if s.under else CH // 2)
                out.append('<rect x="%d" y="%d" width="%d" height="1" fill="%s"/>' % (PAD + c * CW, y, (e - c) * CW, fg))
        c = e

face = ""
try:  # embed the glyphs used, so that the SVG looks the same without Unifont installed
    from fontTools import subset
    from fontTools.ttLib import TTFont
    opts = subset.Options()
    opts.flavor = "woff"
    opts.name_IDs = ["*"]
    opts.prune_unicode_ranges = False  # fontTools 4.38 trips on Unifont's OS/2 ranges
    font = TTFont(font_path)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(ch) for ch in used | set("?")])
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    face = ('<style>@font-face{font-family:"Unifont-wiretop";src:url(data:font/woff;base64,%s) format("woff")}</style>'
            % base64.b64encode(buf.getvalue()).decode())
except ImportError:
    print("screenshot: python3-fonttools not found: the SVG names Unifont without embedding it", file=sys.stderr)

with open(out_path, "w", encoding="utf-8") as f:
    f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">\n' % (W, H, W, H))
    if face:
        f.write(face + "\n")
    f.write('<rect width="%d" height="%d" rx="8" fill="%s"/>\n' % (W, H, BG))
    f.write('<g font-family="Unifont-wiretop, Unifont, monospace" font-size="%dpx" xml:space="preserve">\n' % FS)
    f.write("\n".join(out))
    f.write("\n</g>\n</svg>\n")
EOF

render() { # ansi cols rows svg [png]
	"$PY" "$TMP/render.py" "$1" "$2" "$3" "$4" "$UNIFONT"
	if [ -n "${5:-}" ]; then rsvg-convert -z "$SCALE" -o "$5" "$4"; fi
}

# --- build, and find out whether this build replays ---------------------------
echo "screenshot: building wiretop" >&2
mkdir -p "$TMP/bin"
(cd "$ROOT" && go build -o "$TMP/bin/wiretop" .)
REPLAY_OK=1
if ! (cd "$ROOT" && timeout 60 "$TMP/bin/wiretop" -r testdata/pcap/demo.pcap --headless --speed max --count 1 \
	>/dev/null 2>"$TMP/replay-check.err"); then
	if grep -q "not part of this build" "$TMP/replay-check.err"; then
		REPLAY_OK=0
		echo "screenshot: this build refuses -r ($(head -1 "$TMP/replay-check.err")); using ${FALLBACK_ARGS[*]} on the live host instead" >&2
	fi
fi

pane() { "${TM[@]}" display -p -t "$1" "$2"; }
wait_status() { # file seconds: wait for the exit status that the pane's shell writes
	local n=$(($2 * 10))
	while [ "$n" -gt 0 ]; do
		[ -s "$1" ] && return 0
		sleep 0.1; n=$((n - 1))
	done
	return 1
}
# The pane runs wiretop under sh, which records its exit status in a file
# (tmux 3.3a sometimes leaves one of two panes' children unreaped, a zombie with
# pane_dead_status empty) and then keeps the pane alive for a while, so that
# the terminal's state after wiretop can be read (a dead pane hides the cursor).
RUN='"$0" "$@"; echo $? >"$WIRETOP_STATUS"; exec sleep 30'
check_width() { # ansi cols rows: no line wider than the window, no more lines than it has
	"$PY" "$TMP/render.py" "$1" "$2" "$3"
}

# --- tape mode -----------------------------------------------------------------
if [ -n "$TAPE" ]; then
	[ -f "$TAPE" ] || die "no tape $TAPE"
	TAPE=$(cd "$(dirname "$TAPE")" && pwd)/$(basename "$TAPE")
	[ -z "$FRAMES" ] || mkdir -p "$FRAMES"
	cols=${SIZES[0]%x*} rows=${SIZES[0]#*x}
	envs=()
	while IFS= read -r line; do
		if [[ $line =~ ^Env[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)[[:space:]]+\"(.*)\"$ ]]; then envs+=("${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"); fi
	done <"$TAPE"
	"${TM[@]}" new-session -d -s tape -x "$cols" -y "$rows" -c "$ROOT" \
		env -u NO_COLOR COLORTERM=truecolor PS1='$ ' PATH="$TMP/bin:$PATH" HISTFILE=/dev/null "${envs[@]}" \
		bash --noprofile --norc -i
	speed=0.05 frame=0 lineno=0
	secs() { # VHS durations: 500ms, 2s, 1.5 (seconds)
		case $1 in *ms) awk -v v="${1%ms}" 'BEGIN { print v / 1000 }' ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac
	}
	snap() { # name: capture the screen, and render it when frames are kept
		"${TM[@]}" capture-pane -e -p -t tape >"$TMP/frame.ansi"
		check_width "$TMP/frame.ansi" "$cols" "$rows" || FAIL=1
		if [ -n "$FRAMES" ]; then
			cp "$TMP/frame.ansi" "$FRAMES/$1.ansi"
			render "$TMP/frame.ansi" "$cols" "$rows" "$TMP/frame.svg" "$FRAMES/$1.png"
		fi
	}
	FAIL=0
	sleep 0.5
	while IFS= read -r -u 3 line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line#"${line%%[![:space:]]*}"}
		[ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
		cmd=${line%%[[:space:]]*} rest=""
		[ "$cmd" = "$line" ] || rest=${line#*[[:space:]]}
		at=$speed
		if [[ $cmd == *@* ]]; then at=$(secs "${cmd#*@}"); cmd=${cmd%%@*}; fi
		case $cmd in
		Set) [[ $rest =~ ^TypingSpeed[[:space:]]+([0-9.]+m?s?)$ ]] && speed=$(secs "${BASH_REMATCH[1]}") ;;
		Output | Hide | Show | Env | Source) ;;
		Require)
			PATH="$TMP/bin:$PATH" command -v "$rest" >/dev/null || die "tape line $lineno: Require $rest: not found" ;;
		Type)
			[[ $rest =~ ^\"(.*)\"$ || $rest =~ ^\'(.*)\'$ || $rest =~ ^\`(.*)\`$ ]] || die "tape line $lineno: Type wants a quoted string"
			text=${BASH_REMATCH[1]}
			if [ "$REPLAY_OK" = 0 ] && [[ $text =~ ^wiretop[[:space:]].*-r[[:space:]] ]]; then
				text="wiretop ${FALLBACK_ARGS[*]}"
				echo "screenshot: tape line $lineno: typing '$text' instead (no replay in this build)" >&2
			fi
			for ((i = 0; i < ${#text}; i++)); do
				"${TM[@]}" send-keys -t tape -l -- "${text:i:1}"
				sleep "$at"
			done ;;
		Enter | Tab | Space | Backspace | Escape | Up | Down | Left | Right | PageUp | PageDown | Delete | Insert | Home | End | Ctrl+* | Alt+* | Shift+Tab)
			n=${rest:-1}
			[[ $n =~ ^[0-9]+$ ]] || die "tape line $lineno: $cmd: count $n"
			case $cmd in
			Backspace) key=BSpace ;; Delete) key=DC ;; Insert) key=IC ;; PageUp) key=PPage ;; PageDown) key=NPage ;;
			Shift+Tab) key=BTab ;; Ctrl+*) key=C-${cmd#Ctrl+} ;; Alt+*) key=M-${cmd#Alt+} ;; *) key=$cmd ;;
			esac
			for ((i = 0; i < n; i++)); do "${TM[@]}" send-keys -t tape "$key"; sleep "$at"; done ;;
		Sleep)
			sleep "$(secs "$rest")"
			frame=$((frame + 1))
			snap "$(printf 'frame-%03d' "$frame")" ;;
		Screenshot)
			"${TM[@]}" capture-pane -e -p -t tape >"$TMP/shot.ansi"
			out=$rest; [[ $out == /* ]] || out=$ROOT/$out
			render "$TMP/shot.ansi" "$cols" "$rows" "$TMP/shot.svg" "$out"
			echo "screenshot: wrote $out" >&2 ;;
		Wait | Wait+Screen | Wait+Line)
			[[ $rest =~ ^/(.*)/$ ]] || die "tape line $lineno: Wait wants /regex/"
			re=${BASH_REMATCH[1]} t=15 ok=0
			[ "$at" = "$speed" ] || t=$at
			for ((i = 0; i < ${t%.*} * 10; i++)); do
				"${TM[@]}" capture-pane -p -t tape | grep -Eq -- "$re" && { ok=1; break; }
				sleep 0.1
			done
			[ "$ok" = 1 ] || die "tape line $lineno: Wait /$re/: not on screen after ${t}s" ;;
		*) die "tape line $lineno: unknown command $cmd" ;;
		esac
	done 3<"$TAPE"
	# the tape ends with q: the shell's prompt is back; ask it how wiretop ended
	sleep 1
	alt=$(pane tape '#{alternate_on}') cursor=$(pane tape '#{cursor_flag}')
	"${TM[@]}" send-keys -t tape -l -- 'echo "wiretop-exit=$?"'
	"${TM[@]}" send-keys -t tape Enter
	status=""
	for _ in $(seq 30); do
		status=$("${TM[@]}" capture-pane -p -t tape | sed -n 's/^wiretop-exit=\([0-9]*\)$/\1/p' | tail -1)
		[ -n "$status" ] && break
		sleep 0.1
	done
	"${TM[@]}" capture-pane -p -t tape | grep -v '^$' | tail -5 >&2
	echo "screenshot: tape done: wiretop exit status ${status:-unknown}, alternate screen ${alt}, cursor shown ${cursor}, $frame frames${FRAMES:+ in $FRAMES}" >&2
	[ "$status" = 0 ] && [ "$alt" = 0 ] && [ "$cursor" = 1 ] && [ "$FAIL" = 0 ] || die "the walk-through did not end cleanly"
	exit 0
fi

# --- picture mode ----------------------------------------------------------------
[ ${#ARGS[@]} -gt 0 ] || ARGS=("${DEMO_ARGS[@]}")
replaying=0
for a in "${ARGS[@]}"; do [ "$a" = -r ] || [ "$a" = --read ] && replaying=1; done
if [ "$replaying" = 1 ] && [ "$REPLAY_OK" = 0 ]; then ARGS=("${FALLBACK_ARGS[@]}") replaying=0; fi
if [ -z "$WAIT" ]; then if [ "$replaying" = 1 ]; then WAIT=26; else WAIT=5; fi; fi
mkdir -p "$OUTDIR"
echo "screenshot: wiretop ${ARGS[*]} at ${SIZES[*]}, for ${WAIT}s${KEYS[*]:+, then keys: ${KEYS[*]}}" >&2
for i in "${!SIZES[@]}"; do
	cols=${SIZES[i]%x*} rows=${SIZES[i]#*x}
	"${TM[@]}" new-session -d -s "s$i" -x "$cols" -y "$rows" -c "$ROOT" \
		env -u NO_COLOR COLORTERM=truecolor WIRETOP_STATUS="$TMP/s$i.status" sh -c "$RUN" "$TMP/bin/wiretop" "${ARGS[@]}"
done
sleep "$WAIT"
for i in "${!SIZES[@]}"; do
	if [ -s "$TMP/s$i.status" ]; then
		"${TM[@]}" capture-pane -p -t "s$i" | grep -v '^$' >&2 || true
		die "wiretop ended early (status $(cat "$TMP/s$i.status"))"
	fi
done
for k in "${KEYS[@]}"; do
	for i in "${!SIZES[@]}"; do "${TM[@]}" send-keys -t "s$i" "$k"; done
	sleep 0.4
done
[ ${#KEYS[@]} -eq 0 ] || sleep 1
for i in "${!SIZES[@]}"; do "${TM[@]}" capture-pane -e -p -t "s$i" >"$TMP/s$i.ansi"; done
bad=0
for i in "${!SIZES[@]}"; do
	cols=${SIZES[i]%x*} rows=${SIZES[i]#*x}
	check_width "$TMP/s$i.ansi" "$cols" "$rows" || bad=1
	if [ "$i" = 0 ]; then
		render "$TMP/s$i.ansi" "$cols" "$rows" "$OUTDIR/$NAME.svg" "$OUTDIR/$NAME.png"
		echo "screenshot: wrote $OUTDIR/$NAME.svg $OUTDIR/$NAME.png" >&2
	else
		render "$TMP/s$i.ansi" "$cols" "$rows" "$TMP/s$i.svg" "$OUTDIR/$NAME-${SIZES[i]}.png"
		echo "screenshot: wrote $OUTDIR/$NAME-${SIZES[i]}.png" >&2
	fi
	"${TM[@]}" send-keys -t "s$i" q
done
for i in "${!SIZES[@]}"; do
	wait_status "$TMP/s$i.status" 5 || die "wiretop at ${SIZES[i]} did not quit on q"
	st=$(cat "$TMP/s$i.status") alt=$(pane "s$i" '#{alternate_on}') cursor=$(pane "s$i" '#{cursor_flag}')
	[ "$st" = 0 ] || { "${TM[@]}" capture-pane -p -t "s$i" | grep -v '^$' | tail -5 >&2; die "wiretop at ${SIZES[i]} ended with status $st"; }
	[ "$alt" = 0 ] && [ "$cursor" = 1 ] || die "wiretop at ${SIZES[i]} left the terminal in the alternate screen ($alt) or the cursor hidden (shown: $cursor)"
done
[ "$bad" = 0 ] || die "a line was wider than its window"
