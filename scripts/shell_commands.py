"""Finds the commands a bash script calls, without running it.

A small bash reader: enough of the grammar (quoting, command substitution, here-documents, functions,
case, for, [[ ]], redirections) to tell the command word of every simple command, including commands
run through wrappers (`ip netns exec NS cmd`, `timeout 5 cmd`, `bash -c "..."`, `eval '...'`, and the
scripts' own functions that run "$@"). Here-documents are skipped: in these scripts they hold Python or
the VM guest's own shell script, which runs on busybox, not on this machine.

Used by check_commands.py; no I/O here beyond what the caller passes in.
"""
import re

KEYWORDS_STAY = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
                 "time", "in", "esac"}
BUILTINS = set("""
    . : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs
    disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local
    logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend
    test times trap true type typeset ulimit umask unalias unset wait
""".split())

# Wrappers that run a command given as their arguments: for each, the options that take a separate
# argument (the rest are flags or --opt=value), and how many operands come before the command.
WRAPPERS = {
    "timeout": ({"-s", "--signal", "-k", "--kill-after"}, 1),
    "nice": ({"-n", "--adjustment"}, 0),
    "env": ({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}, 0),
    "exec": ({"-a"}, 0),
    "command": (set(), 0),
    "xargs": ({"-n", "-I", "-P", "-d", "-E", "-L", "-s", "-a"}, 0),
    "setpriv": ({"--ruid", "--euid", "--reuid", "--rgid", "--egid", "--regid", "--groups", "--inh-caps",
                 "--ambient-caps", "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label",
                 "--apparmor-profile", "--landlock-access", "--landlock-rule"}, 0),
    "unshare": ({"-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd", "--propagation",
                 "--map-user", "--map-group", "--map-users", "--map-groups"}, 0),
    "nsenter": ({"-t", "--target", "-S", "--setuid", "-G", "--setgid"}, 0),
    "setsid": (set(), 0),
    "stdbuf": ({"-i", "-o", "-e"}, 0),
    "taskset": (set(), 1),
    "chroot": (set(), 1),
    "runuser": ({"-u", "-g", "-G", "--user", "--group"}, 0),
    "sudo": ({"-u", "-g", "--user", "--group"}, 0),
    "flock": ({"-w", "--timeout", "-E", "--conflict-exit-code"}, 1),
    "ionice": ({"-c", "-n", "--class", "--classdata"}, 0),
    "chrt": (set(), 1),
    "perf": (set(), 0),  # perf stat/record ... -- cmd: handled below
}
SHELLS = {"bash", "sh"}


class Use:
    """One command called: its name, where, and the function (if any) whose body calls it."""

    def __init__(self, name, line, function):
        self.name, self.line, self.function = name, line, function


class Script:
    """What one file defines and calls."""

    def __init__(self, path):
        self.path = path
        self.uses = []            # Use, every command word met (functions and builtins included)
        self.functions = {}       # name -> line of its definition
        self.wrapper_skip = {}    # function name -> arguments it takes before the command it runs
        self.needs = []           # (function or None, [commands]) from `needs` lines
        self.runs_scripts = []    # (function or None, word) for `bash FILE`, `source FILE`
        self.sources = []         # words of `source FILE` alone: files sharing this one's functions


# --- reading: here-documents, continuation lines, then tokens --------------------------------------

HEREDOC = re.compile(r"<<(-?)\s*(?:'([^']*)'|\"([^\"]*)\"|\\?([^\s;&|<>()'\"]+))")
ARITHMETIC = re.compile(r"\(\([^()]*(\([^()]*\)[^()]*)*\)\)")


def strip_heredocs(text):
    """Replaces here-document bodies by empty lines (line numbers kept)."""
    lines = text.split("\n")
    out = []
    pending = []  # (dash, word)
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        code = re.sub(r"<<<", "   ", line)
        code = ARITHMETIC.sub(lambda m: " " * len(m.group(0)), code)  # `<<` there is a shift
        for m in HEREDOC.finditer(code):
            if _in_quotes(code, m.start()):
                continue
            word = m.group(2) if m.group(2) is not None else (m.group(3) if m.group(3) is not None else m.group(4))
            pending.append((m.group(1) == "-", word))
        while pending:
            dash, word = pending.pop(0)
            while i < len(lines):
                body = lines[i]
                out.append("")
                i += 1
                if (body.lstrip("\t") if dash else body) == word:
                    break
    return "\n".join(out)


def _in_quotes(line, index):
    """Whether position index of line lies inside quotes or a comment (rough: for here-doc markers)."""
    quote = None
    j = 0
    while j < index:
        c = line[j]
        if quote:
            if c == "\\" and quote == '"':
                j += 1
            elif c == quote:
                quote = None
            elif quote == '"' and line.startswith("$(", j):
                quote = None  # a command substitution's text is code again (rough: until the line ends)
        elif c == "\\":
            j += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and (j == 0 or line[j - 1] in " \t;"):
            return True
        j += 1
    return quote is not None


class Token:
    def __init__(self, kind, text, line, value=None, literal=True):
        self.kind = kind          # "word", "op", "redir"
        self.text = text          # as written
        self.line = line
        self.value = value if value is not None else text  # quotes removed
        self.literal = literal    # no expansion in it


class Lexer:
    """Splits bash source into words and operators. Command substitutions found anywhere are returned
    as (text, line) pairs in self.nested, to be read as scripts of their own."""

    OPS = ["&&", "||", ";;&", ";;", ";&", "|&", "&", "|", ";", "(", ")"]
    REDIRS = ["&>>", "&>", "<<<", "<<-", "<<", ">>", ">&", "<&", ">|", "<>", ">", "<"]

    def __init__(self, text, first_line=1):
        self.s = text
        self.i = 0
        self.line = first_line
        self.tokens = []
        self.nested = []

    def run(self):
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] == "\n":
                self.i += 2
                self.line += 1
            elif c in " \t\r":
                self.i += 1
            elif c == "\n":
                self.tokens.append(Token("op", "\n", self.line))
                self.line += 1
                self.i += 1
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif s.startswith("((", self.i) and (self._at_command_start() or self._after("for")):
                self._skip_balanced("(", ")")  # arithmetic command
            elif s.startswith("[[", self.i) and self._boundary(self.i + 2) and self._at_command_start():
                self._skip_test_command()
            elif c in "<>" and self.i + 1 < len(s) and s[self.i + 1] == "(":
                self.i += 1
                inner, line = self._balanced_body()
                self.nested.append((inner, line))
                # a word in its own right: the file name a redirection before it takes
                self.tokens.append(Token("word", c + "(" + inner + ")", line, c + "(...)", False))
            else:
                op = self._match(self.OPS)
                if op:
                    self.tokens.append(Token("op", op, self.line))
                    self.i += len(op)
                    continue
                redir = self._redirection()
                if redir:
                    self.tokens.append(Token("redir", redir, self.line))
                    continue
                self._word()
        return self.tokens

    def _at_command_start(self):
        if not self.tokens:
            return True
        last = self.tokens[-1]
        return last.kind == "op" or (last.kind == "word" and last.text in KEYWORDS_STAY)

    def _after(self, word):
        return bool(self.tokens) and self.tokens[-1].kind == "word" and self.tokens[-1].text == word

    def _boundary(self, j):
        return j >= len(self.s) or self.s[j] in " \t\n;"

    def _match(self, options):
        for op in options:
            if self.s.startswith(op, self.i):
                return op
        return None

    def _redirection(self):
        m = re.match(r"\d*", self.s[self.i:])
        j = self.i + len(m.group(0))
        for r in self.REDIRS:
            if self.s.startswith(r, j):
                if m.group(0) and not (self.i == 0 or self.s[self.i - 1] in " \t\n;|&("):
                    return None
                self.i = j + len(r)
                return r
        return None

    def _skip_test_command(self):
        """[[ ... ]]: only command substitutions inside matter."""
        start_line = self.line
        j = self.i + 2
        while j < len(self.s):
            if self.s.startswith("]]", j):
                break
            j += 1
        body = self.s[self.i + 2:j]
        self._collect_substitutions(body, start_line)
        self.line += body.count("\n")
        self.i = j + 2

    def _skip_balanced(self, open_, close):
        depth = 0
        j = self.i
        while j < len(self.s):
            if self.s[j] == open_:
                depth += 1
            elif self.s[j] == close:
                depth -= 1
                if depth == 0:
                    break
            elif self.s[j] == "\n":
                self.line += 1
            j += 1
        body = self.s[self.i:j + 1]
        self._collect_substitutions(body, self.line)
        # an arithmetic command ends with "))"
        self.i = j + 1
        if self.i < len(self.s) and self.s[self.i] == ")":
            self.i += 1

    def _collect_substitutions(self, text, line):
        sub = Lexer(text, line)
        k = 0
        while k < len(text):
            if text.startswith("$(", k) and not text.startswith("$((", k):
                sub.i = k + 1
                inner, ln = sub._balanced_body()
                self.nested.append((inner, ln))
                k = sub.i
            else:
                k += 1

    def _balanced_body(self):
        """At '(' : returns the text up to the matching ')' (quotes respected), and moves past it."""
        assert self.s[self.i] == "("
        start = self.i + 1
        start_line = self.line
        depth = 0
        j = self.i
        s = self.s
        while j < len(s):
            c = s[j]
            if c == "\\":
                if s.startswith("\n", j + 1):
                    self.line += 1
                j += 2
                continue
            if c == "\n":
                self.line += 1
            elif c == "'":
                k = s.find("'", j + 1)
                k = len(s) if k < 0 else k
                self.line += s.count("\n", j, k)
                j = k
            elif c == '"':
                j = self._end_of_double_quote(j)
            elif c == "#" and (j == 0 or s[j - 1] in " \t\n;"):
                while j < len(s) and s[j] != "\n":
                    j += 1
                continue
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    self.i = j + 1
                    return s[start:j], start_line
            j += 1
        self.i = len(s)
        return s[start:], start_line

    def _end_of_double_quote(self, j):
        """Index of the closing quote of the string opening at j (command substitutions skipped)."""
        s = self.s
        k = j + 1
        while k < len(s):
            c = s[k]
            if c == "\\":
                if s.startswith("\n", k + 1):
                    self.line += 1
                k += 2
                continue
            if c == "\n":
                self.line += 1
            if c == '"':
                return k
            if s.startswith("$(", k):
                save_i = self.i
                self.i = k + 1
                inner, ln = self._balanced_body()
                k = self.i
                self.i = save_i
                continue
            k += 1
        return len(s)

    def _word(self):
        s = self.s
        start = self.i
        start_line = self.line
        value = []
        literal = True
        while self.i < len(s):
            c = s[self.i]
            if c == "(" and value and ASSIGNMENT.match("".join(value)) and "".join(value).endswith("="):
                inner, ln = self._balanced_body()  # an array: NAME=(words)
                self._collect_substitutions(inner, ln)
                value.append("(" + inner + ")")
                continue
            if c in " \t\n;&|()<>":
                if c in "<>" and self.i + 1 < len(s) and s[self.i + 1] == "(":
                    literal = False
                    self.i += 1
                    inner, ln = self._balanced_body()
                    self.nested.append((inner, ln))
                    continue
                break
            if c == "\\":
                if self.i + 1 < len(s) and s[self.i + 1] == "\n":
                    self.i += 2
                    self.line += 1
                    continue
                value.append(s[self.i + 1:self.i + 2])
                self.i += 2
            elif c == "'":
                k = s.find("'", self.i + 1)
                k = len(s) if k < 0 else k
                value.append(s[self.i + 1:k])
                self.line += s.count("\n", self.i, k)
                self.i = k + 1
            elif c == '"':
                k = self.i + 1
                part = []
                while k < len(s) and s[k] != '"':
                    if s[k] == "\\" and k + 1 < len(s):
                        if s[k + 1] == "\n":
                            self.line += 1
                        part.append(s[k + 1] if s[k + 1] in '"\\$`' else s[k:k + 2])
                        k += 2
                        continue
                    if s[k] == "`":
                        literal = False
                        end = s.find("`", k + 1)
                        end = len(s) if end < 0 else end
                        self.nested.append((s[k + 1:end], self.line))
                        part.append(s[k:end + 1])
                        k = end + 1
                        continue
                    if s.startswith("$(", k) and not s.startswith("$((", k):
                        literal = False
                        self.i = k + 1
                        inner, ln = self._balanced_body()
                        self.nested.append((inner, ln))
                        part.append("$(" + inner + ")")
                        k = self.i
                        continue
                    if s[k] in "$`":
                        literal = False
                    if s[k] == "\n":
                        self.line += 1
                    part.append(s[k])
                    k += 1
                value.append("".join(part))
                self.i = k + 1
            elif c == "$" and s.startswith("$(", self.i) and not s.startswith("$((", self.i):
                literal = False
                self.i += 1
                inner, ln = self._balanced_body()
                self.nested.append((inner, ln))
                value.append("$(" + inner + ")")
            elif c == "$" and s.startswith("$((", self.i):
                literal = False
                self.i += 1
                save = self.line
                j0 = self.i
                self._skip_balanced("(", ")")
                value.append("$" + s[j0:self.i])
                self.line = save + s.count("\n", j0, self.i)
            elif c == "$" and s.startswith("${", self.i):
                literal = False
                depth = 0
                k = self.i + 1
                while k < len(s):
                    if s[k] == "{":
                        depth += 1
                    elif s[k] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                    k += 1
                body = s[self.i:k + 1]
                self._collect_substitutions(body, self.line)
                value.append(body)
                self.i = k + 1
            elif c == "$" and s.startswith("$'", self.i):
                k = self.i + 2
                while k < len(s) and s[k] != "'":
                    k += 2 if s[k] == "\\" else 1
                k = min(k, len(s))
                value.append(s[self.i + 2:k])
                self.i = k + 1
            elif c == "`":
                literal = False
                k = s.find("`", self.i + 1)
                k = len(s) if k < 0 else k
                self.nested.append((s[self.i + 1:k], self.line))
                value.append(s[self.i:k + 1])
                self.i = k + 1
            else:
                if c == "$":
                    literal = False
                value.append(c)
                self.i += 1
        if self.i > start:
            self.tokens.append(Token("word", s[start:self.i], start_line, "".join(value), literal))
        else:
            self.i += 1  # a character no rule took: step over it


# --- parsing simple commands ------------------------------------------------------------------------

ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\[[^]]*\])?\+?=")


class Reader:
    """Walks one script's tokens, recording into a Script."""

    def __init__(self, script, wrappers):
        self.script = script
        self.wrappers = wrappers    # known wrapper functions (name -> skip), from a first pass
        # [name, brace or parenthesis depth at its body's start, shifts seen, first line, "{" or "("]
        self.function_stack = []
        self.function_lines = []    # (first line, last line, name) of each function read
        self.line = 0
        self.variables = {}         # NAME -> literal value assigned to it

    def read(self, text, first_line=1):
        lexer = Lexer(text, first_line)
        tokens = lexer.run()
        self._read_tokens(tokens)
        # Command substitutions come after the text they sit in: their function is found by line.
        for inner, line in lexer.nested:
            self.read(inner, line)

    def _function(self):
        if self.function_stack:
            return self.function_stack[-1][0]
        inner = None
        for first, last, name in self.function_lines:
            if first <= self.line <= last and (inner is None or first >= inner[0]):
                inner = (first, last, name)
        return inner[2] if inner else None

    def _read_tokens(self, tokens):
        i = 0
        n = len(tokens)
        depth = 0
        parens = 0
        in_case = 0
        case_pattern = False
        while i < n:
            t = tokens[i]
            if t.kind == "op":
                if t.text in (";;", ";&", ";;&") and in_case:
                    case_pattern = True
                elif t.text == "(":
                    parens += 1
                elif t.text == ")":
                    parens -= 1
                    top = self.function_stack[-1] if self.function_stack else None
                    if top and top[4] == "(" and top[1] == parens:  # the end of f() ( ... )
                        self._end_function(t.line)
                i += 1
                continue
            if t.kind == "redir":
                i += 2
                continue
            # a word at the start of a command
            if in_case and case_pattern:
                if t.text == "esac":
                    in_case -= 1
                    case_pattern = False
                    i += 1
                    continue
                while i < n and not (tokens[i].kind == "op" and tokens[i].text == ")"):
                    i += 1
                i += 1
                case_pattern = False
                continue
            if t.text == "case":
                in_case += 1
                case_pattern = True
                while i < n and tokens[i].text != "in":
                    i += 1
                i += 1
                continue
            if t.text == "esac":
                in_case = max(0, in_case - 1)
                i += 1
                continue
            if t.text in ("for", "select"):
                while i < n and not (tokens[i].kind == "op" and tokens[i].text in (";", "\n")) \
                        and tokens[i].text != "do":
                    i += 1
                continue
            if t.text == "function" and i + 1 < n:
                name, line = tokens[i + 1].value, tokens[i + 1].line
                i += 2
                if i + 1 < n and tokens[i].text == "(" and tokens[i + 1].text == ")":
                    i += 2
                i = self._begin_function(name, line, tokens, i, depth, parens)
                continue
            if i + 2 < n and tokens[i + 1].text == "(" and tokens[i + 2].text == ")" and t.literal:
                i = self._begin_function(t.value, t.line, tokens, i + 3, depth, parens)
                continue
            if t.text == "{":
                depth += 1
                i += 1
                continue
            if t.text == "}":
                depth -= 1
                top = self.function_stack[-1] if self.function_stack else None
                if top and top[4] == "{" and top[1] == depth:
                    self._end_function(t.line)
                i += 1
                continue
            if t.text in KEYWORDS_STAY:
                i += 1
                if t.text == "time" and i < n and tokens[i].text == "-p":
                    i += 1
                continue
            if ASSIGNMENT.match(t.text):
                if t.literal:  # a script kept in a variable for `sh -c "$NAME"`
                    name, _, value = t.value.partition("=")
                    self.variables[name.rstrip("+")] = value
                if t.text.endswith("=") and i + 1 < n and tokens[i + 1].text == "(":
                    while i < n and tokens[i].text != ")":
                        i += 1
                i += 1
                continue
            # a simple command: its words up to the next operator
            words = []
            while i < n and tokens[i].kind != "op":
                if tokens[i].kind == "redir":
                    i += 2
                    continue
                words.append(tokens[i])
                i += 1
            self._command(words)
        return

    def _begin_function(self, name, line, tokens, i, depth, parens):
        """At the token after `NAME()`: records the function and returns where its body starts."""
        while i < len(tokens) and tokens[i].text == "\n":
            i += 1
        body = "(" if i < len(tokens) and tokens[i].text == "(" else "{"
        self.script.functions[name] = line
        self.function_stack.append([name, parens if body == "(" else depth, 0, line, body])
        return i

    def _end_function(self, line):
        name, _, _, first, _ = self.function_stack.pop()
        self.function_lines.append((first, line, name))

    def _command(self, words):
        while words:
            head = words[0]
            self.line = head.line
            name = head.value
            self._use(name, head.line)
            if name == "shift" and self.function_stack:
                self.function_stack[-1][2] += int(words[1].value) if len(words) > 1 and words[1].value.isdigit() else 1
                return
            if name in ('$@', '${@}') or name.startswith("${@:"):
                if self.function_stack:
                    fn = self.function_stack[-1]
                    m = re.match(r"\$\{@:(\d+)\}", name)
                    self.script.wrapper_skip[fn[0]] = int(m.group(1)) - 1 if m else fn[2]
                return
            args = words[1:]
            if name == "needs":
                self.script.needs.append((self._function(), [w.value for w in args]))
                return
            if name in (".", "source") and args:
                self.script.runs_scripts.append((self._function(), args[0].value))
                self.script.sources.append(args[0].value)
                return
            if name in ("eval",):
                self.read(" ".join(w.value for w in args), head.line)
                return
            if name == "trap" and len(args) >= 2 and args[0].value not in ("-", ""):
                self.read(args[0].value, head.line)
                return
            if name in SHELLS:
                options = [w.value for w in args if w.value.startswith("-")]
                operands = [w for w in args if not w.value.startswith("-")]
                if any(o.startswith("-") and not o.startswith("--") and "c" in o for o in options) and operands:
                    script = operands[0].value  # bash [-opts]c 'SCRIPT'
                    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z_0-9]*)\}?", script)
                    self.read(self.variables.get(m.group(1), "") if m else script, head.line)
                elif operands:
                    self.script.runs_scripts.append((self._function(), operands[0].value))
                return
            if name == "flock":
                for k, w in enumerate(args[:-1]):
                    if w.value in ("-c", "--command"):
                        self.read(args[k + 1].value, head.line)
                        return
            if name == "su":
                for k, w in enumerate(args[:-1]):
                    if w.value in ("-c", "--command"):
                        self.read(args[k + 1].value, head.line)
                return
            if name == "find":
                for k, w in enumerate(args):
                    if w.value in ("-exec", "-execdir", "-ok") and k + 1 < len(args):
                        self._command(args[k + 1:])
                        break
                return
            if name == "ip":
                values = [w.value for w in args]
                if "netns" in values and "exec" in values:
                    k = values.index("exec")
                    if values.index("netns") + 1 == k and k + 2 <= len(values):
                        words = args[k + 2:]
                        continue
                return
            if name == "perf":
                values = [w.value for w in args]
                if "--" in values:
                    words = args[values.index("--") + 1:]
                    continue
                return
            if name == "command":
                if args and args[0].value in ("-v", "-V"):
                    for w in args[1:]:
                        self._use(w.value, w.line)
                    return
            if name in WRAPPERS:
                with_arg, operands = WRAPPERS[name]
                k = 0
                while k < len(args) and args[k].value.startswith("-") and args[k].value != "-":
                    if args[k].value == "--":
                        k += 1
                        break
                    if args[k].value in with_arg:
                        k += 1
                    k += 1
                if name == "env":
                    while k < len(args) and ASSIGNMENT.match(args[k].value):
                        k += 1
                k += operands
                words = args[k:]
                continue
            skip = self.wrappers.get(name)
            if skip is not None:
                words = args[skip:]
                continue
            return

    def _use(self, name, line):
        self.line = line
        self.script.uses.append(Use(name, line, self._function()))


def read_script(path, text, wrappers):
    script = Script(path)
    Reader(script, wrappers).read(strip_heredocs(text))
    return script


def read_scripts(sources):
    """sources: {path: text}. Two passes: the first finds the functions that run "$@" (wrappers), the
    second reads every script knowing all of them."""
    wrappers = {}
    for path, text in sources.items():
        wrappers.update(read_script(path, text, {}).wrapper_skip)
    return {path: read_script(path, text, wrappers) for path, text in sources.items()}
