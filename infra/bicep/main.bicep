// Automator67 in Azure: the control plane as a container app, its PostgreSQL database (private, TLS only), the storage
// account of the relay queues (no shared keys), Key Vault (RBAC), Log Analytics and Application Insights, and the one
// managed identity the app runs as, with the least roles it needs. Deploy into a resource group:
//   az deployment group create -g RG --parameters infra/bicep/dev.bicepparam
// See docs/azure.md.

targetScope = 'resourceGroup'

@description('Address space of the virtual network and its two subnets.')
type networkConfig = {
  @description('Address space, e.g. 10.67.0.0/16.')
  addressPrefix: string
  @description('Subnet of the Container Apps environment, /27 or larger.')
  appsSubnetPrefix: string
  @description('Subnet delegated to PostgreSQL flexible server.')
  postgresSubnetPrefix: string
}

@description('PostgreSQL flexible server: version, size, storage, backups, high availability.')
type postgresConfig = {
  version: '15' | '16' | '17'
  @description('Compute size, e.g. Standard_B1ms or Standard_D2ds_v5.')
  skuName: string
  skuTier: 'Burstable' | 'GeneralPurpose' | 'MemoryOptimized'
  @description('Storage in GiB (32, 64, 128, 256, 512, …); grows by itself.')
  storageSizeGB: int
  @description('Days of point-in-time restore.')
  @minValue(7)
  @maxValue(35)
  backupRetentionDays: int
  @description('Copy backups to the paired region.')
  geoRedundantBackup: bool
  @description('A standby in another zone (not for Burstable).')
  zoneRedundantHa: bool
}

@description('Short name of this deployment, used in resource names (e.g. a67dev).')
@minLength(3)
@maxLength(12)
param name string

@description('Azure region; the resource group\'s by default.')
param location string = resourceGroup().location

@description('Control-plane image (the Dockerfile at the root of the repository).')
param image string

@description('Azure Container Registry in this resource group that holds the image; the app\'s identity gets AcrPull on it. Empty for a public image.')
param registryName string = ''

@description('vCPU of one control-plane replica.')
param cpu string = '0.5'

@description('Memory of one control-plane replica (2 Gi per vCPU).')
param memory string = '1Gi'

@description('Control-plane replicas always running (at least 1: it also runs the job server and the events consumer).')
@minValue(1)
param minReplicas int = 1

@description('Most control-plane replicas under load.')
@minValue(1)
param maxReplicas int = 1

@description('Spread the Container Apps environment over availability zones.')
param zoneRedundant bool = false

param network networkConfig = {
  addressPrefix: '10.67.0.0/16'
  appsSubnetPrefix: '10.67.0.0/23'
  postgresSubnetPrefix: '10.67.2.0/24'
}

param postgres postgresConfig = {
  version: '16'
  skuName: 'Standard_B1ms'
  skuTier: 'Burstable'
  storageSizeGB: 32
  backupRetentionDays: 7
  geoRedundantBackup: false
  zoneRedundantHa: false
}

@description('Name of the PostgreSQL server; empty for a generated one. Set it to adopt a server restored from a backup (docs/backup.md).')
param postgresServerName string = ''

@description('PostgreSQL administrator login (the control plane signs in as it).')
param postgresAdminLogin string = 'a67admin'

@description('PostgreSQL administrator password (12+ characters; keep it in a password manager or read it back from Key Vault).')
@secure()
@minLength(12)
param postgresAdminPassword string

@description('Replication of the queue storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param storageSku string = 'Standard_LRS'

@description('Key Vault purge protection (can\'t be turned off once on).')
param keyVaultPurgeProtection bool = false

@description('Days Log Analytics keeps logs.')
param logRetentionDays int = 30

@description('Daily Log Analytics ingestion cap in GB; -1 for none.')
param logDailyQuotaGb int = -1

@description('Further control-plane settings as name → value (e.g. {"Auth__AllowSignup": "false"}); never secrets.')
param settings { *: string } = {}

@description('Control-plane settings whose values are Key Vault secrets, as setting name → secret name (e.g. {"GitHub__ClientSecret": "github-client-secret"}); put each secret in the vault first.')
param vaultSettings { *: string } = {}

@description('Tags of every resource.')
param tags { *: string } = {
  application: 'automator67'
}

// Names: readable prefix plus a suffix unique to this resource group for the names Azure wants unique everywhere.
var suffix = uniqueString(resourceGroup().id, name)
var compactName = toLower(replace(name, '-', ''))
var names = {
  identity: 'id-${name}'
  workspace: 'log-${name}'
  appInsights: 'appi-${name}'
  vnet: 'vnet-${name}'
  postgres: empty(postgresServerName) ? 'psql-${toLower(name)}-${suffix}' : postgresServerName
  storage: take('st${compactName}${suffix}', 24)
  keyVault: take('kv${compactName}${suffix}', 24)
  environment: 'cae-${name}'
  app: 'ca-${toLower(name)}-api'
}
var databaseName = 'automator67'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: names.identity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  params: {
    location: location
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    retentionInDays: logRetentionDays
    dailyQuotaGb: logDailyQuotaGb
    tags: tags
  }
}

module vnet 'modules/network.bicep' = {
  params: {
    location: location
    vnetName: names.vnet
    addressPrefix: network.addressPrefix
    appsSubnetPrefix: network.appsSubnetPrefix
    postgresSubnetPrefix: network.postgresSubnetPrefix
    // Named after the deployment, not the server: a server restored under another name joins the same zone.
    postgresDnsZoneName: '${toLower(name)}.private.postgres.database.azure.com'
    tags: tags
  }
}

module database 'modules/postgres.bicep' = {
  params: {
    location: location
    serverName: names.postgres
    version: postgres.version
    skuName: postgres.skuName
    skuTier: postgres.skuTier
    storageSizeGB: postgres.storageSizeGB
    backupRetentionDays: postgres.backupRetentionDays
    geoRedundantBackup: postgres.geoRedundantBackup
    zoneRedundantHa: postgres.zoneRedundantHa
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    databaseName: databaseName
    delegatedSubnetId: vnet.outputs.postgresSubnetId
    privateDnsZoneId: vnet.outputs.postgresDnsZoneId
    tags: tags
  }
}

module queues 'modules/storage.bicep' = {
  params: {
    location: location
    accountName: names.storage
    skuName: storageSku
    identityId: identity.id
    principalId: identity.properties.principalId
    tags: tags
  }
}

module vault 'modules/keyvault.bicep' = {
  params: {
    location: location
    vaultName: names.keyVault
    identityId: identity.id
    principalId: identity.properties.principalId
    enablePurgeProtection: keyVaultPurgeProtection
    softDeleteRetentionInDays: keyVaultPurgeProtection ? 90 : 7
    // Verify-full: the server's certificate must chain to a trusted root and name this host.
    postgresConnectionString: 'Host=${database.outputs.fqdn};Port=5432;Database=${database.outputs.databaseName};Username=${postgresAdminLogin};Password=${postgresAdminPassword};SSL Mode=VerifyFull'
    tags: tags
  }
}

module registryPull 'modules/registry-pull.bicep' = if (!empty(registryName)) {
  params: {
    registryName: registryName
    identityId: identity.id
    principalId: identity.properties.principalId
  }
}

module environment 'modules/environment.bicep' = {
  params: {
    location: location
    environmentName: names.environment
    infrastructureSubnetId: vnet.outputs.appsSubnetId
    zoneRedundant: zoneRedundant
    workspaceName: names.workspace
    tags: tags
  }
  dependsOn: [
    monitoring
  ]
}

module controlPlane 'modules/control-plane.bicep' = {
  params: {
    location: location
    appName: names.app
    environmentId: environment.outputs.environmentId
    environmentDomain: environment.outputs.defaultDomain
    image: image
    // From the module: the app is created once its identity may pull.
    registryServer: empty(registryName) ? '' : registryPull!.outputs.loginServer
    identityId: identity.id
    identityClientId: identity.properties.clientId
    cpu: cpu
    memory: memory
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    // From the vault module: the app is created once the identity may read the secret.
    postgresSecretUri: vault.outputs.postgresSecretUri
    queueServiceUri: queues.outputs.queueEndpoint
    keyVaultUri: vault.outputs.vaultUri
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    settings: settings
    vaultSettings: vaultSettings
    tags: tags
  }
}

@description('The control plane\'s API (node-relay enroll --url, the CLI, the browser).')
output apiUrl string = controlPlane.outputs.url

output containerAppName string = names.app
output postgresServerName string = database.outputs.serverName
output postgresHost string = database.outputs.fqdn
output storageAccountName string = queues.outputs.accountName
output queueServiceUri string = queues.outputs.queueEndpoint
output keyVaultName string = vault.outputs.vaultName
output keyVaultUri string = vault.outputs.vaultUri
output identityClientId string = identity.properties.clientId
output logAnalyticsWorkspaceName string = monitoring.outputs.workspaceName
