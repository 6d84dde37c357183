package bustest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Real nats-server processes for cluster and leaf-node tests, built from
// the nats-server module this project depends on (go.mod's version), once
// per test binary.

var (
	serverBinOnce sync.Once
	serverBin     string
	serverBinErr  error
)

// ServerBinary builds the nats-server of go.mod's nats-server/v2 module
// (once per test binary) and returns its path.
func ServerBinary(t testing.TB) string {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func serverBinary() (string, error) {
	serverBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "razar-nats-server-")
		if err != nil {
			serverBinErr = err
			return
		}
		serverBin = filepath.Join(dir, "nats-server")
		cmd := exec.Command("go", "build", "-o", serverBin, "github.com/nats-io/nats-server/v2")
		if out, err := cmd.CombinedOutput(); err != nil {
			serverBinErr = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	return serverBin, serverBinErr
}

// Node is one nats-server process of a Cluster.
type Node struct {
	Name     string
	Port     int // client port
	Cluster  int // route port
	Leaf     int // leaf-node port, 0 when the cluster takes no leaves
	StoreDir string
	Conf     string
	bin      string
	c        *Cluster

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// URL is the node's client URL.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// Cluster is a NATS cluster of real nats-server processes on loopback,
// each with JetStream in its own temp store, killed at cleanup.
type Cluster struct {
	Name  string
	Nodes []*Node
	t     testing.TB    // nil outside a test
	opts  []nats.Option // how the harness itself connects
}

// ClusterOption changes how NewCluster configures its servers.
type ClusterOption func(*clusterConfig)

type clusterConfig struct {
	leaf     bool
	domain   string
	extra    string
	user     []nats.Option
	leafConf string
}

// WithLeafNodes opens a leaf-node listener on every node of the cluster.
func WithLeafNodes() ClusterOption { return func(c *clusterConfig) { c.leaf = true } }

// WithLeafNodeConfig puts text inside every node's leafnodes block
// (implies WithLeafNodes): e.g. "no_advertise: true", so a leaf keeps to
// the one URL it was given and a test's proxy in front of it can cut it.
func WithLeafNodeConfig(text string) ClusterOption {
	return func(c *clusterConfig) { c.leaf, c.leafConf = true, c.leafConf+"\n  "+text }
}

// WithJetStreamDomain puts the cluster's JetStream in domain d (the
// jetstream block's domain), as a hub that leaf nodes with JetStream of
// their own reach by $JS.<d>.API.
func WithJetStreamDomain(d string) ClusterOption { return func(c *clusterConfig) { c.domain = d } }

// WithConfig appends text to every node's configuration file (accounts,
// authorization, a leafnodes block's authorization, ...).
func WithConfig(text string) ClusterOption {
	return func(c *clusterConfig) { c.extra += "\n" + text + "\n" }
}

// WithUser is the user (of an account with JetStream) the harness itself
// connects as to check readiness and find leaders, for a configuration
// whose WithConfig requires authentication.
func WithUser(user, password string) ClusterOption {
	return func(c *clusterConfig) { c.user = []nats.Option{nats.UserInfo(user, password)} }
}

// WithClientCreds makes the cluster's own probes (WaitReady,
// StreamLeader) connect as the user of a .creds file: for a cluster in
// operator mode, where anonymous clients are refused. The user's account
// needs JetStream.
func WithClientCreds(path string) ClusterOption {
	return func(c *clusterConfig) { c.user = []nats.Option{nats.UserCredentials(path)} }
}

// NewCluster starts n real nats-servers clustered on loopback with
// JetStream and waits until the cluster has a JetStream meta leader.
func NewCluster(t testing.TB, n int, opts ...ClusterOption) *Cluster {
	t.Helper()
	c, err := StartCluster(t.TempDir(), n, opts...)
	if c != nil {
		c.t = t
		t.Cleanup(c.Close)
	}
	if err != nil {
		var logs strings.Builder
		if c != nil {
			for _, n := range c.Nodes {
				fmt.Fprintf(&logs, "--- %s\n%s\n", n.Name, tail(n.Log(), 3000))
			}
		}
		t.Fatalf("%v\n%s", err, logs.String())
	}
	return c
}

// StartCluster is NewCluster outside a test (the benchmark command): the
// configuration and stores in dir, stopped by Close.
func StartCluster(dir string, n int, opts ...ClusterOption) (*Cluster, error) {
	var cfg clusterConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := serverBinary() // built before any port is chosen
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: "razar-test", opts: cfg.user}
	for i := range n {
		nd := &Node{Name: fmt.Sprintf("n%d", i+1), StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), bin: bin, c: c}
		ports := []*int{&nd.Port, &nd.Cluster}
		if cfg.leaf {
			ports = append(ports, &nd.Leaf)
		}
		for _, p := range ports {
			if *p, err = freePort(); err != nil {
				return nil, err
			}
		}
		c.Nodes = append(c.Nodes, nd)
	}
	for _, nd := range c.Nodes {
		var routes []string
		for _, o := range c.Nodes {
			if o != nd {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.Cluster))
			}
		}
		js := fmt.Sprintf("store_dir: %q", nd.StoreDir)
		if cfg.domain != "" {
			js += fmt.Sprintf(", domain: %q", cfg.domain)
		}
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { %s }
cluster {
  name: %s
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, nd.Name, nd.Port, js, c.Name, nd.Cluster, strings.Join(routes, ", "))
		if nd.Leaf != 0 {
			conf += fmt.Sprintf("leafnodes { listen: 127.0.0.1:%d%s }\n", nd.Leaf, cfg.leafConf)
		}
		conf += cfg.extra
		nd.Conf = filepath.Join(dir, nd.Name+".conf")
		if err := os.WriteFile(nd.Conf, []byte(conf), 0o600); err != nil {
			return nil, err
		}
	}
	for _, nd := range c.Nodes {
		if err := nd.start(); err != nil {
			c.Close()
			return c, err
		}
	}
	if err := c.waitReady(60 * time.Second); err != nil {
		c.Close()
		return c, err
	}
	return c, nil
}

// Close kills every node. Idempotent.
func (c *Cluster) Close() {
	for _, nd := range c.Nodes {
		nd.Kill()
	}
}

// NewServer starts one real nats-server process with JetStream in a temp
// store, not clustered: an external bus a test can SIGKILL and start again
// on the same store (Node.Kill, Node.Start). It is a Cluster of one node so
// WaitReady serves it too; it waits until JetStream answers.
func NewServer(t testing.TB) *Cluster {
	t.Helper()
	bin := ServerBinary(t)
	dir := t.TempDir()
	nd := &Node{Name: "s1", Port: FreePort(t), StoreDir: filepath.Join(dir, "s1"), bin: bin}
	nd.Conf = filepath.Join(dir, nd.Name+".conf")
	conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n", nd.Name, nd.Port, nd.StoreDir)
	if err := os.WriteFile(nd.Conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Name: "", Nodes: []*Node{nd}, t: t}
	nd.c = c
	nd.Start()
	t.Cleanup(nd.Kill)
	c.WaitReady(60 * time.Second)
	return c
}

// URLs is every node's client URL, comma-separated, as --nats takes them.
func (c *Cluster) URLs() string {
	var u []string
	for _, n := range c.Nodes {
		u = append(u, n.URL())
	}
	return strings.Join(u, ",")
}

// Start starts the node's server process (again, after Kill).
func (n *Node) Start() {
	if err := n.start(); err != nil {
		if t := n.c.t; t != nil {
			t.Helper()
			t.Fatal(err)
		}
		panic(err)
	}
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(n.Conf), n.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, "-c", n.Conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.cmd, n.done, n.log = cmd, done, logf
	return nil
}

// Kill SIGKILLs the node's server and waits for it to exit. Idempotent.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.log.Close()
	n.cmd = nil
}

// Running says whether the node's process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Log is what the node's server has logged so far, for a failure message.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(n.Conf), n.Name+".log"))
	return string(b)
}

// WaitReady waits until every running node answers and JetStream can
// place a stream on all of them.
func (c *Cluster) WaitReady(d time.Duration) {
	c.t.Helper()
	if err := c.waitReady(d); err != nil {
		var logs strings.Builder
		for _, n := range c.Nodes {
			fmt.Fprintf(&logs, "--- %s\n%s\n", n.Name, tail(n.Log(), 3000))
		}
		c.t.Fatalf("%v\n%s", err, logs.String())
	}
}

func (c *Cluster) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if last = c.ready(); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("cluster not ready within %v: %v", d, last)
}

func (c *Cluster) ready() error {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		nc, err := c.connect(n)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = nc.RequestWithContext(ctx, "$JS.API.INFO", nil)
		cancel()
		if err == nil {
			// An account info answer needs the meta leader; then the
			// leader's view must hold every running peer.
			err = c.metaPeers(nc)
		}
		nc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return nil
}

// metaPeers checks, by creating and deleting a probe stream of as many
// replicas as running nodes, that JetStream can place on all of them.
func (c *Cluster) metaPeers(nc *nats.Conn) error {
	up := 0
	for _, n := range c.Nodes {
		if n.Running() {
			up++
		}
	}
	js, err := nc.JetStream(nats.MaxWait(3 * time.Second))
	if err != nil {
		return err
	}
	name := "READY_PROBE"
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"razar-test.ready-probe"}, Replicas: up, Storage: nats.MemoryStorage}); err != nil {
		return fmt.Errorf("probe stream of %d replicas: %w", up, err)
	}
	return js.DeleteStream(name)
}

// connect is a probe's connection to node n.
func (c *Cluster) connect(n *Node) (*nats.Conn, error) {
	return nats.Connect(n.URL(), append([]nats.Option{nats.Timeout(time.Second), nats.NoReconnect()}, c.opts...)...)
}

// StreamLeader is the name of the node leading stream name, as the
// cluster reports it.
func (c *Cluster) StreamLeader(name string) string {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		nc, err := c.connect(n)
		if err != nil {
			continue
		}
		js, err := nc.JetStream(nats.MaxWait(3 * time.Second))
		if err == nil {
			var info *nats.StreamInfo
			if info, err = js.StreamInfo(name); err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				nc.Close()
				return info.Cluster.Leader
			}
		}
		nc.Close()
	}
	return ""
}

// Node is the node named name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	if c.t != nil {
		c.t.Fatalf("no node %q in the cluster", name)
	}
	return nil
}

// FreePort is a loopback TCP port nobody listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
