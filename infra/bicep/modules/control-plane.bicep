// The control plane as a container app: the HTTP API on port 7071 behind the environment's HTTPS ingress, its Hangfire
// server and the relay-events consumer in the same process. Liveness is /healthz (the process is up: a database outage
// never restarts it); readiness is /readyz (database migrated, queue service reachable), which gates traffic.

param location string

@description('Name of the container app.')
param appName string

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Default domain of the environment; the app answers at https://<appName>.<domain>.')
param environmentDomain string

@description('Control-plane image, e.g. myregistry.azurecr.io/automator67/functions:1.4.0.')
param image string

@description('Login server of the registry the image is pulled from with the managed identity; empty for a public image.')
param registryServer string

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('vCPU of one replica (0.25-4, in steps of 0.25).')
param cpu string

@description('Memory of one replica, twice the vCPU in Gi (0.5Gi per 0.25 vCPU).')
param memory string

@description('Replicas always running: at least 1, since the process also runs the job server and the events consumer.')
@minValue(1)
@maxValue(300)
param minReplicas int

@minValue(1)
@maxValue(300)
param maxReplicas int

@description('Key Vault secret (versionless URI) holding ConnectionStrings__Postgres.')
param postgresSecretUri string

@description('Queue service endpoint of the storage account, e.g. https://account.queue.core.windows.net/.')
param queueServiceUri string

@description('URI of the Key Vault the product reads its secrets from.')
param keyVaultUri string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Further settings as name → value (e.g. {"Auth__AllowSignup": "false"}); not for secrets.')
param settings { *: string }

@description('Settings whose values are Key Vault secrets, as setting name → secret name (e.g. {"GitHub__ClientSecret": "github-client-secret"}); each secret must exist in the vault.')
param vaultSettings { *: string }

@description('Tags of every resource.')
param tags { *: string }

var port = 7071
var publicUrl = 'https://${appName}.${environmentDomain}'

// Settings the control plane reads (local.settings.sample.json names every one); `settings` may add to or replace them.
var baseSettings = {
  ASPNETCORE_ENVIRONMENT: 'Production'
  ControlPlane__BindAddress: '0.0.0.0'
  ControlPlane__Port: string(port)
  Logging__Console__FormatterName: 'json'
  // Identity-based connection, in the Azure Functions convention (AzureWebJobsStorage__queueServiceUri …).
  // The queue client signs in as this identity; relays' SAS are signed with a user delegation key (docs/azure.md).
  AzureWebJobsStorage__queueServiceUri: queueServiceUri
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The identity DefaultAzureCredential (Azure.Identity) picks when several could apply.
  AZURE_CLIENT_ID: identityClientId
  Secrets__KeyVaultUri: keyVaultUri
  GitHub__CallbackUrl: '${publicUrl}/api/auth/github/callback'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
}
var plainEnv = map(items(union(baseSettings, settings)), setting => {
  name: setting.key
  value: setting.value
})
var secretEnv = [
  {
    name: 'ConnectionStrings__Postgres'
    secretRef: 'postgres-connection-string'
  }
]
var appSecrets = [
  {
    name: 'postgres-connection-string'
    keyVaultUrl: postgresSecretUri
    identity: identityId
  }
]
// Container Apps secret names are lower case; Key Vault's are not.
var vaultEnv = map(items(vaultSettings), setting => {
  name: setting.key
  secretRef: toLower(setting.value)
})
var vaultSecrets = map(items(vaultSettings), setting => {
  name: toLower(setting.value)
  keyVaultUrl: '${keyVaultUri}secrets/${setting.value}'
  identity: identityId
})

resource app 'Microsoft.App/containerApps@2026-01-01' = {
  name: appName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: port
        transport: 'auto'
        allowInsecure: false
        traffic: [
          {
            latestRevision: true
            weight: 100
          }
        ]
      }
      secrets: concat(appSecrets, vaultSecrets)
      registries: empty(registryServer)
        ? []
        : [
            {
              server: registryServer
              identity: identityId
            }
          ]
    }
    template: {
      // ControlPlane__ShutdownTimeout (30 s) plus a margin: SIGTERM lets requests and jobs finish.
      terminationGracePeriodSeconds: 40
      containers: [
        {
          name: 'functions'
          image: image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          env: concat(plainEnv, secretEnv, vaultEnv)
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: port
              }
              periodSeconds: 2
              failureThreshold: 30
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: port
              }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: port
              }
              // /readyz checks the database and the queue service (5 s each at most).
              periodSeconds: 10
              timeoutSeconds: 6
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http'
            http: {
              metadata: {
                concurrentRequests: '50'
              }
            }
          }
        ]
      }
    }
  }
}

output fqdn string = app.properties.configuration.ingress.fqdn
output url string = 'https://${app.properties.configuration.ingress.fqdn}'
