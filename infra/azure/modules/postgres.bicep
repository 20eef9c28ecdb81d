// Azure Database for PostgreSQL flexible server: TLS required, the extensions the migrations create
// (pg_trgm for typo-tolerant search, btree_gin for the combined GIN indexes) allow-listed through
// azure.extensions, the application database, and a firewall rule admitting only the AKS egress IP.
// Child writes are serialised (the server refuses concurrent configuration/database operations).

@description('Server name (globally unique DNS label).')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

@description('PostgreSQL major version.')
param version string

@description('Compute SKU.')
param skuName string

@description('Compute tier.')
param tier string

@description('Storage in GiB (never lowered by a re-run: raise it here if you grow it).')
param storageGb int

@description('Administrator login.')
param adminLogin string

@description('Administrator password.')
@secure()
param adminPassword string

@description('Application database.')
param database string

@description('Resource id of the public IP the cluster leaves through.')
param allowedPublicIpId string

@description('Extensions the SQL migrations create (todo_core/store/migrations/0001_init.sql).')
param extensions array = [
  'pg_trgm'
  'btree_gin'
]

var ipParts = split(allowedPublicIpId, '/')

resource egressIp 'Microsoft.Network/publicIPAddresses@2024-05-01' existing = {
  name: last(ipParts)
  scope: resourceGroup(ipParts[4])
}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: tier
  }
  properties: {
    version: version
    administratorLogin: adminLogin
    administratorLoginPassword: adminPassword
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
    storage: {
      storageSizeGB: storageGb
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource allowListedExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: join(extensions, ',')
    source: 'user-override'
  }
}

resource appDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: database
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    allowListedExtensions
  ]
}

resource aksEgress 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'aks-egress'
  properties: {
    startIpAddress: egressIp.properties.ipAddress
    endIpAddress: egressIp.properties.ipAddress
  }
  dependsOn: [
    appDatabase
  ]
}

output id string = server.id
output fqdn string = server.properties.fullyQualifiedDomainName
