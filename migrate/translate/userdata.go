package translate

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// bootstrap is what the node bootstrap in a launch template's user data configured, once
// the parts Karpenter generates itself are taken out (karpenter-mapping.md §2.6).
type bootstrap struct {
	labels  map[string]string
	taints  []taintSpec
	kubelet kubeletArgs
	// instanceStoreRAID0 is set by AL2's --local-disks raid0.
	instanceStoreRAID0 bool
	// userData is what is left to pass on (nil when nothing is).
	userData *string
	// dropped lists settings that cannot carry over, for the findings.
	dropped []string
	// rewritten is true when userData was changed.
	rewritten bool
}

type taintSpec struct {
	key, value, effect, source string
}

// stripUserData takes the managed-node-group bootstrap out of user data written for
// family, moving labels, taints and kubelet settings to where Karpenter expects them.
func stripUserData(family, ud string) bootstrap {
	b := bootstrap{labels: map[string]string{}}
	if strings.TrimSpace(ud) == "" {
		return b
	}
	if family == familyCustom {
		// Karpenter adds no bootstrap to a Custom family: the user data must do it all,
		// so it is kept exactly as it is.
		b.userData = &ud
		return b
	}
	parts, isMIME := splitMIME(ud)
	var kept []mimePart
	for _, p := range parts {
		var body string
		var keep bool
		switch {
		case strings.HasPrefix(p.contentType, "application/node.eks.aws"):
			body, keep = b.stripNodeConfig(p.body)
		case family == familyBottlerocket:
			body, keep = b.stripBottlerocket(p.body)
		case strings.HasPrefix(family, "Windows"):
			body, keep = b.stripWindows(p.body)
		case family == familyAL2023 && looksLikeNodeConfig(p.body):
			body, keep = b.stripNodeConfig(p.body)
		default:
			body, keep = b.stripShell(p.body)
		}
		if keep {
			kept = append(kept, mimePart{contentType: p.contentType, body: body})
		}
	}
	var out string
	switch {
	case len(kept) == 0:
		b.rewritten = true
		return b
	case isMIME || len(kept) > 1:
		out = joinMIME(kept)
	default:
		out = kept[0].body
	}
	b.rewritten = b.rewritten || out != ud
	b.userData = &out
	return b
}

type mimePart struct {
	contentType string
	body        string
}

// splitMIME splits a MIME multi-part document; anything else is one part.
func splitMIME(ud string) ([]mimePart, bool) {
	trim := strings.TrimLeft(ud, " \t\r\n")
	if !strings.HasPrefix(trim, "MIME-Version") && !strings.HasPrefix(strings.ToLower(trim), "content-type: multipart") {
		return []mimePart{{contentType: guessContentType(ud), body: ud}}, false
	}
	msg, err := mail.ReadMessage(strings.NewReader(trim))
	if err != nil {
		return []mimePart{{contentType: guessContentType(ud), body: ud}}, false
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return []mimePart{{contentType: guessContentType(ud), body: ud}}, false
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var parts []mimePart
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return []mimePart{{contentType: guessContentType(ud), body: ud}}, false
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return []mimePart{{contentType: guessContentType(ud), body: ud}}, false
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = guessContentType(string(body))
		}
		parts = append(parts, mimePart{contentType: ct, body: string(body)})
	}
	return parts, true
}

func guessContentType(body string) string {
	if looksLikeNodeConfig(body) {
		return "application/node.eks.aws"
	}
	return `text/x-shellscript; charset="us-ascii"`
}

func looksLikeNodeConfig(body string) bool {
	return strings.Contains(body, "node.eks.aws/v1alpha1") && strings.Contains(body, "NodeConfig")
}

// joinMIME writes parts as a MIME multi-part document with a fixed boundary, so the
// output is deterministic.
func joinMIME(parts []mimePart) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n")
	for _, p := range parts {
		b.WriteString("--//\nContent-Type: " + p.contentType + "\n\n")
		b.WriteString(strings.TrimRight(p.body, "\n") + "\n")
	}
	b.WriteString("--//--\n")
	return b.String()
}

// stripShell removes the AL2 bootstrap.sh call (and the variables only it used) from a
// shell script. It returns the script and whether anything worth running is left.
func (b *bootstrap) stripShell(script string) (string, bool) {
	lines := logicalLines(script)
	vars := map[string]string{}
	var out []string
	meaningful := false
	for _, l := range lines {
		joined := joinContinued(l)
		trim := strings.TrimSpace(joined)
		if name, val, ok := shellAssignment(trim); ok {
			vars[name] = val
		}
		switch {
		case strings.Contains(joined, "/etc/eks/bootstrap.sh"):
			b.parseBootstrapSh(expandVars(trim, vars))
			b.rewritten = true
			continue
		case bootstrapVar(trim):
			b.rewritten = true
			continue
		}
		out = append(out, l...)
		if !trivialShell(trim) {
			meaningful = true
		}
	}
	if !meaningful {
		return "", false
	}
	return strings.Join(out, "\n") + "\n", true
}

// joinContinued joins physical lines that end in a backslash continuation.
func joinContinued(l []string) string {
	parts := make([]string, len(l))
	for i, p := range l {
		if i < len(l)-1 {
			p = strings.TrimSuffix(strings.TrimRight(p, " \t"), "\\")
		}
		parts[i] = p
	}
	return strings.Join(parts, " ")
}

var shellVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// shellAssignment recognises NAME=value (optionally exported, value optionally quoted,
// no expansion or command substitution).
func shellAssignment(line string) (string, string, bool) {
	line = strings.TrimPrefix(line, "export ")
	name, val, ok := strings.Cut(line, "=")
	if !ok || name == "" || strings.ContainsAny(name, " \t$\"'") || strings.ContainsAny(val, "$`(") {
		return "", "", false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	w := shellWords(val)
	if len(w) != 1 {
		return name, "", len(w) == 0
	}
	return name, w[0], true
}

// expandVars substitutes variables assigned earlier in the script; unknown ones stay.
func expandVars(s string, vars map[string]string) string {
	return shellVar.ReplaceAllStringFunc(s, func(m string) string {
		name := shellVar.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// logicalLines groups physical lines joined by a trailing backslash.
func logicalLines(s string) [][]string {
	var out [][]string
	var cur []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		cur = append(cur, line)
		if strings.HasSuffix(strings.TrimRight(line, " \t"), "\\") {
			continue
		}
		out = append(out, cur)
		cur = nil
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var bootstrapVars = []string{"B64_CLUSTER_CA=", "API_SERVER_URL=", "K8S_CLUSTER_DNS_IP=", "CLUSTER_NAME="}

func bootstrapVar(line string) bool {
	line = strings.TrimPrefix(line, "export ")
	for _, v := range bootstrapVars {
		if strings.HasPrefix(line, v) {
			return true
		}
	}
	return false
}

func trivialShell(line string) bool {
	switch {
	case line == "", strings.HasPrefix(line, "#"):
		return true
	case strings.HasPrefix(line, "set ") && !strings.ContainsAny(line, ";&|"):
		return true
	}
	return false
}

// parseBootstrapSh reads the arguments of an /etc/eks/bootstrap.sh call.
func (b *bootstrap) parseBootstrapSh(line string) {
	words := shellWords(line)
	i := slices.IndexFunc(words, func(w string) bool { return strings.HasSuffix(w, "/etc/eks/bootstrap.sh") })
	if i < 0 {
		return
	}
	args := words[i+1:]
	for j := 0; j < len(args); j++ {
		a := args[j]
		if !strings.HasPrefix(a, "--") {
			continue // the cluster name, or shell glue after the call
		}
		name, val, hasVal := strings.Cut(a, "=")
		// Every bootstrap.sh option takes a value, and --kubelet-extra-args' value
		// itself starts with dashes.
		if !hasVal && j+1 < len(args) {
			val = args[j+1]
			j++
		}
		switch name {
		case "--kubelet-extra-args":
			if strings.Contains(val, "$") {
				b.dropped = append(b.dropped, "bootstrap.sh --kubelet-extra-args "+val+" (unresolved variable)")
				continue
			}
			for _, f := range shellWords(val) {
				b.kubeletFlag(f, "bootstrap.sh --kubelet-extra-args")
			}
		case "--b64-cluster-ca", "--apiserver-endpoint", "--use-max-pods", "--container-runtime", "--cluster-id":
			// Karpenter passes these itself.
		case "--dns-cluster-ip":
			if strings.Contains(val, "$") {
				b.dropped = append(b.dropped, "bootstrap.sh --dns-cluster-ip "+val+" (unresolved variable)")
				continue
			}
			b.kubelet.set("clusterDNS", val, "bootstrap.sh --dns-cluster-ip")
		case "--local-disks":
			if val == "raid0" {
				b.instanceStoreRAID0 = true
			} else {
				b.dropped = append(b.dropped, "bootstrap.sh "+name+" "+val)
			}
		default:
			d := "bootstrap.sh " + name
			if val != "" {
				d += " " + val
			}
			b.dropped = append(b.dropped, d)
		}
	}
}

// kubeletFlag handles one kubelet command-line flag.
func (b *bootstrap) kubeletFlag(f, source string) {
	name, val, _ := strings.Cut(strings.TrimSpace(f), "=")
	switch name {
	case "--node-labels":
		for _, kv := range splitList(val) {
			k, v, _ := strings.Cut(kv, "=")
			b.labels[k] = v
		}
	case "--register-with-taints":
		for _, t := range splitList(val) {
			b.addTaint(t, source)
		}
	default:
		if field, ok := kubeletFlags[name]; ok {
			b.kubelet.set(field, val, source)
			return
		}
		b.dropped = append(b.dropped, source+" "+f)
	}
}

// addTaint parses key=value:Effect or key:Effect.
func (b *bootstrap) addTaint(t, source string) {
	kv, effect, ok := strings.Cut(t, ":")
	if !ok {
		b.dropped = append(b.dropped, source+" taint "+t+" (no effect)")
		return
	}
	k, v, _ := strings.Cut(kv, "=")
	b.taints = append(b.taints, taintSpec{key: k, value: v, effect: effect, source: source})
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// shellWords splits a command line into words, honouring single and double quotes and
// backslash escapes (enough for bootstrap calls; no expansion).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote = r
			inWord = true
		case r == '\\' && i+1 < len(rs):
			i++
			if rs[i] != '\n' {
				cur.WriteRune(rs[i])
				inWord = true
			}
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// stripNodeConfig removes what Karpenter's own NodeConfig sets (the cluster section,
// labels, taints and the portable kubelet fields) from AL2023 nodeadm configuration.
func (b *bootstrap) stripNodeConfig(body string) (string, bool) {
	var kept []string
	for _, doc := range splitYAMLDocs(body) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil || m == nil {
			if strings.TrimSpace(doc) != "" {
				kept = append(kept, doc)
			}
			continue
		}
		if kind, _ := m["kind"].(string); kind != "NodeConfig" {
			kept = append(kept, doc)
			continue
		}
		spec, _ := m["spec"].(map[string]any)
		if _, ok := spec["cluster"]; ok {
			delete(spec, "cluster")
			b.rewritten = true
		}
		if kl, ok := spec["kubelet"].(map[string]any); ok {
			if cfg, ok := kl["config"].(map[string]any); ok {
				for key, v := range cfg {
					if slices.Contains(portableKubeletFields, key) {
						b.kubelet.setValue(key, v, "NodeConfig spec.kubelet.config."+key)
						delete(cfg, key)
						b.rewritten = true
					}
				}
				if len(cfg) == 0 {
					delete(kl, "config")
				}
			}
			if flags, ok := kl["flags"].([]any); ok {
				var rest []any
				for _, f := range flags {
					s, _ := f.(string)
					name, _, _ := strings.Cut(s, "=")
					if name == "--node-labels" || name == "--register-with-taints" || kubeletFlags[name] != "" {
						b.kubeletFlag(s, "NodeConfig spec.kubelet.flags")
						b.rewritten = true
						continue
					}
					rest = append(rest, f) // nodeadm still passes these to the kubelet
				}
				if len(rest) == 0 {
					delete(kl, "flags")
				} else {
					kl["flags"] = rest
				}
			}
			if len(kl) == 0 {
				delete(spec, "kubelet")
			}
		}
		if len(spec) == 0 {
			b.rewritten = true
			continue
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			kept = append(kept, doc)
			continue
		}
		kept = append(kept, string(out))
	}
	if len(kept) == 0 {
		return "", false
	}
	return strings.Join(kept, "---\n"), true
}

func splitYAMLDocs(s string) []string {
	var docs []string
	var cur bytes.Buffer
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, " \t\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// stripWindows removes the EKS bootstrap script call from a PowerShell user data.
func (b *bootstrap) stripWindows(body string) (string, bool) {
	var out []string
	meaningful := false
	for _, l := range logicalLines(body) {
		joined := strings.TrimSpace(strings.Join(l, " "))
		lower := strings.ToLower(joined)
		switch {
		case strings.Contains(lower, "start-eksbootstrap.ps1") && strings.Contains(lower, "$eksbootstrapscriptfile ="),
			strings.HasPrefix(lower, "[string]$eksbootstrapscriptfile"):
			b.rewritten = true
			continue
		case strings.Contains(lower, "eksbootstrapscriptfile") || strings.Contains(lower, "start-eksbootstrap.ps1"):
			b.parseWindowsBootstrap(joined)
			b.rewritten = true
			continue
		}
		out = append(out, l...)
		if joined != "" && joined != "<powershell>" && joined != "</powershell>" && !strings.HasPrefix(joined, "#") {
			meaningful = true
		}
	}
	if !meaningful {
		return "", false
	}
	return strings.Join(out, "\n") + "\n", true
}

func (b *bootstrap) parseWindowsBootstrap(line string) {
	words := shellWords(line)
	for j := 0; j < len(words); j++ {
		w := words[j]
		if !strings.HasPrefix(w, "-") || j+1 >= len(words) {
			continue
		}
		val := words[j+1]
		switch strings.ToLower(w) {
		case "-eksclustername", "-apiserverendpoint", "-base64clusterca":
			j++
		case "-dnsclusterip":
			b.kubelet.set("clusterDNS", val, "Start-EKSBootstrap -DNSClusterIP")
			j++
		case "-kubeletextraargs":
			for _, f := range shellWords(val) {
				b.kubeletFlag(f, "Start-EKSBootstrap -KubeletExtraArgs")
			}
			j++
		default:
			b.dropped = append(b.dropped, "Start-EKSBootstrap "+w+" "+val)
			j++
		}
	}
}

// stripBottlerocket removes the [settings.kubernetes] keys Karpenter sets itself from
// Bottlerocket TOML, moving labels, taints and kubelet settings out.
func (b *bootstrap) stripBottlerocket(body string) (string, bool) {
	type line struct {
		text   string
		header bool
	}
	var out []line
	table := ""
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		t := strings.TrimSpace(raw)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") && !strings.HasPrefix(t, "[[") {
			table = strings.Trim(strings.TrimSpace(strings.Trim(t, "[]")), `"`)
			if brTableMoved(table) {
				b.rewritten = true
				continue
			}
			out = append(out, line{text: raw, header: true})
			continue
		}
		k, v, isKV := strings.Cut(t, "=")
		if !isKV || strings.HasPrefix(t, "#") {
			if !brTableMoved(table) {
				out = append(out, line{text: raw})
			}
			continue
		}
		key := strings.Trim(strings.TrimSpace(k), `"`)
		full := key
		if table != "" {
			full = table + "." + key
		}
		val := strings.TrimSpace(v)
		if b.bottlerocketSetting(full, val) {
			b.rewritten = true
			continue
		}
		out = append(out, line{text: raw})
	}
	// Drop table headers left without keys.
	var kept []string
	meaningful := false
	for i, l := range out {
		if l.header {
			empty := true
			for _, n := range out[i+1:] {
				if n.header {
					break
				}
				if s := strings.TrimSpace(n.text); s != "" && !strings.HasPrefix(s, "#") {
					empty = false
					break
				}
			}
			if empty {
				continue
			}
		}
		if s := strings.TrimSpace(l.text); s != "" && !strings.HasPrefix(s, "#") && !l.header {
			meaningful = true
		}
		kept = append(kept, l.text)
	}
	if !meaningful {
		return "", false
	}
	return tidyLines(kept), true
}

// tidyLines joins lines without leading, trailing or repeated blank lines.
func tidyLines(lines []string) string {
	var out []string
	for _, l := range lines {
		blank := strings.TrimSpace(l) == ""
		if blank && (len(out) == 0 || strings.TrimSpace(out[len(out)-1]) == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}

// Bottlerocket tables whose every key moves to the NodePool or the kubelet block.
var brMovedTables = []string{
	"settings.kubernetes.node-labels", "settings.kubernetes.node-taints",
	"settings.kubernetes.kube-reserved", "settings.kubernetes.system-reserved", "settings.kubernetes.eviction-hard",
}

func brTableMoved(table string) bool { return slices.Contains(brMovedTables, table) }

// bottlerocketSetting consumes one key = value; it reports whether the line goes away.
func (b *bootstrap) bottlerocketSetting(full, val string) bool {
	const k8s = "settings.kubernetes."
	if !strings.HasPrefix(full, k8s) {
		return false
	}
	rest := strings.TrimPrefix(full, k8s)
	src := "Bottlerocket " + full
	for _, t := range brMovedTables {
		sub := strings.TrimPrefix(t, k8s) + "."
		if !strings.HasPrefix(rest, sub) {
			continue
		}
		key := strings.Trim(strings.TrimPrefix(rest, sub), `"`)
		switch sub {
		case "node-labels.":
			b.labels[key] = tomlString(val)
		case "node-taints.":
			for _, tv := range tomlStrings(val) {
				value, effect, ok := strings.Cut(tv, ":")
				if !ok {
					b.dropped = append(b.dropped, src+" (no effect)")
					continue
				}
				b.taints = append(b.taints, taintSpec{key: key, value: value, effect: effect, source: src})
			}
		case "kube-reserved.":
			b.kubelet.setMap("kubeReserved", key, tomlString(val), src)
		case "system-reserved.":
			b.kubelet.setMap("systemReserved", key, tomlString(val), src)
		case "eviction-hard.":
			b.kubelet.setMap("evictionHard", key, tomlString(val), src)
		}
		return true
	}
	switch rest {
	case "cluster-name", "api-server", "cluster-certificate", "bootstrap-token", "authentication-mode":
		return true
	case "cluster-dns-ip":
		b.kubelet.set("clusterDNS", strings.Join(tomlStrings(val), ","), src)
		return true
	case "max-pods":
		b.kubelet.set("maxPods", tomlString(val), src)
		return true
	case "pods-per-core":
		b.kubelet.set("podsPerCore", tomlString(val), src)
		return true
	case "image-gc-high-threshold-percent":
		b.kubelet.set("imageGCHighThresholdPercent", tomlString(val), src)
		return true
	case "image-gc-low-threshold-percent":
		b.kubelet.set("imageGCLowThresholdPercent", tomlString(val), src)
		return true
	case "cpu-cfs-quota-enforced":
		b.kubelet.set("cpuCFSQuota", tomlString(val), src)
		return true
	}
	return false
}

func tomlString(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.Index(v, " #"); i >= 0 && !strings.HasPrefix(v, `"`) {
		v = strings.TrimSpace(v[:i])
	}
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.LastIndexByte(v, v[0]); end > 0 {
			return v[1:end]
		}
	}
	return v
}

func tomlStrings(v string) []string {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "[") {
		return []string{tomlString(v)}
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = tomlString(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
