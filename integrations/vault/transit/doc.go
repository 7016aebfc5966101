// Package transit holds only tests: an end-to-end check that Vault's own
// transit secrets engine (builtin/logical/transit in github.com/hashicorp/vault)
// draws its key material from an hsmrand.Reader when its SystemView is
// wrapped by [github.com/hsmentropy/hsmentropy/integrations/vault.Factory].
//
// It is a module of its own because the main Vault module is large (several
// hundred dependencies) and is published under the Business Source License
// 1.1, which allows this non-production use; keeping it here means neither
// the core module nor integrations/vault, which users import, depends on it.
// Run it with make vault-test.
package transit
