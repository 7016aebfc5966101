// Package validate checks the Kubernetes manifests of contrib/kubernetes
// against the real Kubernetes API types (k8s.io/api), decoding each
// document strictly: an unknown or misspelt field is an error, as
// "kubectl apply --validate=strict" makes it. It is a module of its own so
// that hsmentropy's module does not depend on k8s.io/api; CI runs it with
// "cd contrib/kubernetes/validate && go test ./...".
//
// Beyond the schema it checks the policy the manifests carry: the one
// capability RNDADDENTROPY needs and nothing more, the host's /dev/random,
// the PIN as a file from a Secret, the probes, and a configuration that
// points at the paths the pod mounts.
package validate

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const manifest = "../entropyd.yaml"

// objects are the manifest's documents, decoded strictly.
type objects struct {
	daemonSet  *appsv1.DaemonSet
	configMaps map[string]*corev1.ConfigMap
	namespace  *corev1.Namespace
	account    *corev1.ServiceAccount
}

// decode splits a multi-document YAML file and decodes each document into
// the API type its apiVersion and kind name, refusing unknown fields.
func decode(t *testing.T, path string) objects {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	o := objects{configMaps: map[string]*corev1.ConfigMap{}}
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1)
	for i, doc := range docs {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), "document %d", i)
		var into any
		switch gvk := meta.APIVersion + " " + meta.Kind; gvk {
		case "v1 Namespace":
			o.namespace = &corev1.Namespace{}
			into = o.namespace
		case "v1 ServiceAccount":
			o.account = &corev1.ServiceAccount{}
			into = o.account
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			into = cm
			defer func() { o.configMaps[cm.Name] = cm }()
		case "apps/v1 DaemonSet":
			o.daemonSet = &appsv1.DaemonSet{}
			into = o.daemonSet
		default:
			require.Failf(t, "unknown kind", "document %d: %q is not a kind this test knows", i, gvk)
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), into), "document %d (%s)", i, meta.Kind)
	}
	return o
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	var ds appsv1.DaemonSet
	err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      hostNetwrok: true\n"), &ds)
	assert.ErrorContains(t, err, "hostNetwrok")
}

func TestManifest(t *testing.T) {
	o := decode(t, manifest)
	require.NotNil(t, o.daemonSet, "no DaemonSet")
	require.NotNil(t, o.namespace, "no Namespace")
	require.NotNil(t, o.account, "no ServiceAccount")
	ds := o.daemonSet
	ns := o.namespace.Name
	for _, m := range []struct{ kind, namespace string }{
		{"DaemonSet", ds.Namespace}, {"ServiceAccount", o.account.Namespace},
	} {
		assert.Equal(t, ns, m.namespace, "%s's namespace", m.kind)
	}
	for name, cm := range o.configMaps {
		assert.Equal(t, ns, cm.Namespace, "ConfigMap %s's namespace", name)
	}
	assert.Equal(t, ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels, "the selector matches the pods")
	assert.Equal(t, "entropyd", ds.Spec.Template.Labels["app.kubernetes.io/name"], "the label the scrape job keeps")
}

// TestLeastPrivilege: root in the container with CAP_SYS_ADMIN alone, in
// the initial user namespace, nothing else of the host's.
func TestLeastPrivilege(t *testing.T) {
	ds := decode(t, manifest).daemonSet
	pod := ds.Spec.Template.Spec
	assert.False(t, pod.HostNetwork || pod.HostPID || pod.HostIPC, "no host network, PID or IPC namespace")
	require.NotNil(t, pod.HostUsers, "hostUsers stated")
	assert.True(t, *pod.HostUsers, "the initial user namespace: CAP_SYS_ADMIN counts only there")
	require.NotNil(t, pod.AutomountServiceAccountToken)
	assert.False(t, *pod.AutomountServiceAccountToken, "no API token")
	require.Len(t, pod.Containers, 1)
	sc := pod.Containers[0].SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Equal(t, []corev1.Capability{"SYS_ADMIN"}, sc.Capabilities.Add)
	for what, b := range map[string]*bool{"privileged": sc.Privileged, "allowPrivilegeEscalation": sc.AllowPrivilegeEscalation} {
		if assert.NotNil(t, b, what) {
			assert.False(t, *b, what)
		}
	}
	if assert.NotNil(t, sc.ReadOnlyRootFilesystem) {
		assert.True(t, *sc.ReadOnlyRootFilesystem)
	}
	if assert.NotNil(t, sc.SeccompProfile) {
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			assert.Contains(t, []string{"/dev/random", "/opt/fxpkcs11"}, v.HostPath.Path, "volume %s: an unexpected host path", v.Name)
		}
	}
}

// TestMountsAndConfiguration: the host's /dev/random, the PIN from a Secret
// as a file only root reads, the vendor library and its configuration, and
// an entropyd configuration that names those paths.
func TestMountsAndConfiguration(t *testing.T) {
	o := decode(t, manifest)
	pod := o.daemonSet.Spec.Template.Spec
	c := pod.Containers[0]
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{} // volume name -> mount path
	for _, m := range c.VolumeMounts {
		require.Contains(t, volumes, m.Name, "mount of an undeclared volume")
		mounts[m.Name] = m.MountPath
		if m.Name != "dev-random" {
			assert.True(t, m.ReadOnly, "mount %s is read-only", m.Name)
		}
	}

	conf := map[string]string{}
	cm := o.configMaps["entropyd"]
	require.NotNil(t, cm, "the ConfigMap entropyd")
	for _, line := range strings.Split(cm.Data["entropyd.conf"], "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}

	dev := volumes["dev-random"]
	require.NotNil(t, dev.HostPath, "/dev/random comes from the host")
	assert.Equal(t, "/dev/random", dev.HostPath.Path)
	if assert.NotNil(t, dev.HostPath.Type) {
		assert.Equal(t, corev1.HostPathCharDev, *dev.HostPath.Type)
	}
	assert.Equal(t, mounts["dev-random"], conf["device"], "entropyd feeds the mounted device")

	pin := volumes["pin"]
	require.NotNil(t, pin.Secret, "the PIN comes from a Secret")
	if assert.NotNil(t, pin.Secret.DefaultMode) {
		assert.Equal(t, int32(0o400), *pin.Secret.DefaultMode)
	}
	assert.Equal(t, mounts["pin"]+"/pin", conf["pin-file"], "pin-file is the Secret's key pin")
	for _, e := range c.Env {
		assert.NotContains(t, strings.ToUpper(e.Name), "PIN", "the PIN is a file, never a variable")
	}

	lib := volumes["pkcs11-lib"]
	require.NotNil(t, lib.HostPath)
	assert.True(t, strings.Contains(conf["pkcs11-uri"], "module-path="+mounts["pkcs11-lib"]+"/"), "the URI's module is in the mounted library directory: %s", conf["pkcs11-uri"])
	require.NotNil(t, volumes["pkcs11-config"].ConfigMap)
	assert.Contains(t, o.configMaps, volumes["pkcs11-config"].ConfigMap.Name)

	assert.Equal(t, []string{"run", "--config", mounts["config"] + "/entropyd.conf"}, c.Args)
	assert.NotContains(t, conf["listen"], "localhost", "the kubelet probes the pod's IP")
}

func TestProbes(t *testing.T) {
	c := decode(t, manifest).daemonSet.Spec.Template.Spec.Containers[0]
	require.Len(t, c.Ports, 1)
	port := c.Ports[0]
	assert.Equal(t, "metrics", port.Name)
	assert.Equal(t, int32(9746), port.ContainerPort)
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{
		"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}, "startup": {c.StartupProbe, "/healthz"},
	} {
		require.NotNil(t, p.probe, name)
		require.NotNil(t, p.probe.HTTPGet, name)
		assert.Equal(t, p.path, p.probe.HTTPGet.Path, name)
		assert.Equal(t, port.Name, p.probe.HTTPGet.Port.String(), name)
	}
}

// scrapeConfig is the part of Prometheus's configuration that
// prometheus-scrape.yml uses: Debian's promtool lacks Kubernetes service
// discovery, so this strict decoding stands in for promtool check config.
type scrapeConfig struct {
	ScrapeConfigs []struct {
		JobName             string `json:"job_name"`
		KubernetesSDConfigs []struct {
			Role       string `json:"role"`
			Namespaces struct {
				Names []string `json:"names"`
			} `json:"namespaces"`
		} `json:"kubernetes_sd_configs"`
		RelabelConfigs []struct {
			SourceLabels []string `json:"source_labels"`
			Regex        string   `json:"regex"`
			Action       string   `json:"action"`
			TargetLabel  string   `json:"target_label"`
		} `json:"relabel_configs"`
	} `json:"scrape_configs"`
}

func TestScrapeConfig(t *testing.T) {
	data, err := os.ReadFile("../prometheus-scrape.yml")
	require.NoError(t, err)
	var sc scrapeConfig
	require.NoError(t, yaml.UnmarshalStrict(data, &sc))
	require.Len(t, sc.ScrapeConfigs, 1)
	job := sc.ScrapeConfigs[0]
	assert.Equal(t, "entropyd", job.JobName, "the job the alert rules expect")
	require.Len(t, job.KubernetesSDConfigs, 1)
	o := decode(t, manifest)
	assert.Equal(t, []string{o.namespace.Name}, job.KubernetesSDConfigs[0].Namespaces.Names)
	keep := job.RelabelConfigs[0]
	assert.Equal(t, "keep", keep.Action)
	c := o.daemonSet.Spec.Template.Spec.Containers[0]
	assert.Equal(t, fmt.Sprintf("%s;%s", o.daemonSet.Spec.Template.Labels["app.kubernetes.io/name"], c.Ports[0].Name), keep.Regex,
		"the job keeps the DaemonSet's pods and port")
	assert.True(t, bytes.Contains(data, []byte("__meta_kubernetes_pod_label_app_kubernetes_io_name")))
}
