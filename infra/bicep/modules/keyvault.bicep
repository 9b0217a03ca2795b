// Key Vault in RBAC mode (no access policies): the control plane's identity may read secret values (Key Vault
// Secrets User) and nothing else. It holds the database connection string, which Container Apps reads through the
// same identity, and the secrets the product's Key Vault code reads (Secrets__KeyVaultUri).

param location string

@description('Name of the vault (3-24 letters, digits and hyphens, unique in Azure).')
@minLength(3)
@maxLength(24)
param vaultName string

@description('Resource id of the control plane\'s managed identity (names its role assignments).')
param identityId string

@description('Principal id of that identity.')
param principalId string

@description('Purge protection: a deleted vault and its secrets can\'t be purged before the retention ends. Can\'t be turned off again.')
param enablePurgeProtection bool

@description('Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Npgsql connection string of the control-plane database, stored as the secret postgres-connection-string.')
@secure()
param postgresConnectionString string

@description('Tags of every resource.')
param tags { *: string }

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User: read secret values

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // ARM refuses false here: leave it unset unless it is turned on.
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource postgresSecret 'Microsoft.KeyVault/vaults/secrets@2026-02-01' = {
  parent: vault
  name: 'postgres-connection-string'
  properties: {
    value: postgresConnectionString
    contentType: 'Npgsql connection string'
  }
}

resource secretsUserAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityId, secretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

output vaultName string = vault.name
output vaultUri string = vault.properties.vaultUri
// Without a version: Container Apps follows the latest version of the secret.
output postgresSecretUri string = postgresSecret.properties.secretUri
// Lets the app wait for its read permission before Container Apps fetches the secret.
output secretsUserAssignmentId string = secretsUserAssignment.id
