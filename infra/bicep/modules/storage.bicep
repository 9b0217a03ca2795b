// The storage account whose queues carry relay commands (a67-node-<id>) and events (a67-relay-events). No account
// key works on it: the control plane signs in with its managed identity and hands relays user delegation SAS (signed
// with a key it obtains through that identity), scoped to their own queues. Relays run anywhere, so the queue
// endpoint is public; every request needs a token or a SAS.

param location string

@description('Name of the storage account (3-24 lower-case letters and digits, unique in Azure).')
@minLength(3)
@maxLength(24)
param accountName string

@description('Replication: Standard_LRS (one datacentre) or Standard_ZRS (three zones).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param skuName string

@description('Resource id of the control plane\'s managed identity (names its role assignments).')
param identityId string

@description('Principal id of that identity.')
param principalId string

@description('Tags of every resource.')
param tags { *: string }

// Built-in roles (ids are the same in every tenant).
var queueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor: create, read, write, delete queues and messages
var queueDelegator = '7ee386e9-84f0-448e-80a6-f185f6533131' // Storage Queue Delegator: get a user delegation key to sign SAS

resource account 'Microsoft.Storage/storageAccounts@2025-08-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource queueDataContributorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityId, queueDataContributor)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
  }
}

resource queueDelegatorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityId, queueDelegator)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDelegator)
  }
}

output accountName string = account.name
output queueEndpoint string = account.properties.primaryEndpoints.queue
