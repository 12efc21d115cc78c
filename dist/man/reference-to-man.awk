# reference-to-man.awk: fastid.toml(5) in roff from `fastidd --config-reference`
# (the Markdown that docs/configuration.md is), so that the manual page and
# the document come from one source, the settings table. Knows exactly the
# Markdown that config_reference_markdown() writes: headings, paragraphs,
# numbered and bulleted lists, tables of keys, code blocks, `code`, **bold**,
# [links](url).

function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  return s
}
function inline(s,    out, pre, word) {
  s = esc(s)
  while (match(s, /\[[^]]*\]\([^)]*\)/)) {
    word = substr(s, RSTART + 1, RLENGTH - 2)
    sub(/\]\(/, " (", word)
    s = substr(s, 1, RSTART - 1) word ")" substr(s, RSTART + RLENGTH)
  }
  while (match(s, /`[^`]*`/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
  while (match(s, /\*\*[^*]*\*\*/)) s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" substr(s, RSTART + RLENGTH)
  return s
}
function line(s) {
  if (s ~ /^[.']/) s = "\\&" s
  print s
}
function cell(s) { gsub(/^ +| +$/, "", s); return s }

BEGIN {
  print ".\\\" fastid.toml(5), generated from `fastidd --config-reference` by dist/man/reference-to-man.awk."
  print ".TH FASTID.TOML 5 \"\" \"fastid\" \"File Formats\""
  print ".SH NAME"
  print "fastid.toml \\- configuration of the fastid identity daemon, fastidd(8)"
  print ".SH DESCRIPTION"
  comment = 0; code = 0; table = 0
}
comment { if ($0 ~ /-->/) comment = 0; next }
/^<!--/ { if ($0 !~ /-->/) comment = 1; next }
code {
  if ($0 ~ /^```/) { print ".fi"; print ".RE"; code = 0; next }
  line(esc($0)); next
}
/^```/ { print ".PP"; print ".RS 4"; print ".nf"; code = 1; next }
/^# / { next }
/^## / { print ".SH \"" toupper(esc(substr($0, 4))) "\""; next }
/^### / { print ".SS \"" esc(substr($0, 5)) "\""; next }
/^\|/ {
  n = split($0, f, "|")
  if (!table) { table = 1; ncols = n; for (i = 2; i < n; i++) head[i] = cell(f[i]); next }
  if ($0 ~ /^\|-/) next
  # | key | type | default | limits | description |, or | key | meaning |
  print ".TP"
  line(inline(cell(f[2])))
  if (n >= 7) {
    text = cell(f[3]) "; default " cell(f[4])
    if (cell(f[5]) != "") text = text "; " cell(f[5])
    line(inline(text) ".")
    print ".br"
    line(inline(cell(f[6])))
  } else {
    for (i = 3; i < n; i++) line(inline(cell(f[i])))
  }
  next
}
{ table = 0 }
/^$/ { print ".PP"; next }
/^[0-9]+\. / { sub(/^[0-9]+\. /, ""); print ".IP \\(bu 2"; line(inline($0)); next }
/^- / { sub(/^- /, ""); print ".IP \\(bu 2"; line(inline($0)); next }
{ sub(/^ +/, ""); line(inline($0)) }
END {
  print ".SH SEE ALSO"
  print ".BR fastidd (8),"
  print ".BR fastid (1)"
}
